//! Every judgement of a study, one row each, as CSV (`judgements.csv`, read back by `valuelab
//! kappa`) and JSON lines (`judgements.jsonl`). Attention checks are included and flagged.

use super::report::JudgementRow;
use serde::Serialize;

/// The CSV header: [`ExportRow`]'s field names in order (serde writes them with the first row;
/// an empty study still gets them, and a test keeps the two the same).
const HEADER: [&str; 11] = [
    "study",
    "item_id",
    "group",
    "annotator",
    "shown_left",
    "choice_shown",
    "choice",
    "seconds",
    "attention_check",
    "attention_passed",
    "created_at_ms",
];

/// One exported judgement; the CSV header is these field names in this order.
#[derive(Debug, Serialize)]
pub struct ExportRow<'a> {
    pub study: i32,
    pub item_id: i32,
    pub group: &'a str,
    pub annotator: &'a str,
    /// The method shown on the left: "A" or "B".
    pub shown_left: &'static str,
    /// "left" | "right" | "tie", as the annotator saw it.
    pub choice_shown: &'a str,
    /// "A" | "B" | "tie".
    pub choice: &'a str,
    pub seconds: f64,
    pub attention_check: bool,
    /// For attention checks, whether the careful answer was given.
    pub attention_passed: Option<bool>,
    pub created_at_ms: i64,
}

pub fn rows(rows: &[JudgementRow]) -> impl Iterator<Item = ExportRow<'_>> {
    rows.iter().map(|r| {
        let j = &r.judgement;
        ExportRow {
            study: j.study_id,
            item_id: j.item_id,
            group: &r.group,
            annotator: &r.annotator,
            shown_left: if j.a_on_left { "A" } else { "B" },
            choice_shown: &j.choice_shown,
            choice: &j.choice,
            seconds: j.seconds,
            attention_check: r.attention_answer.is_some(),
            attention_passed: r.attention_answer.as_ref().map(|a| *a == j.choice),
            created_at_ms: j.created_at_ms,
        }
    })
}

pub fn csv(judgements: &[JudgementRow]) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut any = false;
    for row in rows(judgements) {
        writer.serialize(row)?;
        any = true;
    }
    if !any {
        writer.write_record(HEADER)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

pub fn jsonl(judgements: &[JudgementRow]) -> anyhow::Result<String> {
    let mut out = String::new();
    for row in rows(judgements) {
        out.push_str(&serde_json::to_string(&row)?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::Judgement;

    #[test]
    fn an_empty_study_gets_the_header_its_rows_would_write() {
        let row = JudgementRow {
            judgement: Judgement {
                id: 1,
                study_id: 2,
                item_id: 3,
                user_id: 4,
                a_on_left: false,
                choice_shown: "left".into(),
                choice: "B".into(),
                seconds: 1.5,
                created_at_ms: 7,
            },
            group: "Group_1".into(),
            conclusion: "c".into(),
            attention_answer: None,
            annotator: "ann".into(),
        };
        let full = csv(&[row]).unwrap();
        let empty = csv(&[]).unwrap();
        assert_eq!(full.lines().next(), empty.lines().next());
        assert_eq!(empty.trim_end(), HEADER.join(","));
        assert_eq!(
            full.lines().nth(1),
            Some("2,3,Group_1,ann,B,left,B,1.5,false,,7")
        );
    }
}
