//! Task 4 (§6.2): opinions on European Social Survey questions, prompt of the paper's Table 21
//! (`{ESS item}. Answer:`). The `question` column of the question table already holds the
//! authors' full prompt text (it ends in "Answer: ..."), so it is used as it is. Each question
//! is answered on its own scale and rescaled to 0..1; the gold is the group's mean answer.
//!
//! Few-shot variant (`--shots N`): before each question, N other questions of the same table,
//! each followed by the group's gold answer (the scale label nearest to the gold mean), drawn
//! with a generator seeded by the run seed, the group and the question, so a rerun shows the
//! same examples. It needs gold, and never shows the question being asked.

use super::result::ItemRecord;
pub use super::task::FewShot;
use super::task::{Task, TaskItem, TaskKind};
use crate::data::ess::EssQuestion;
use crate::groups::gold::GoldRow;
use crate::{Error, Result};
use std::collections::HashSet;
use std::path::Path;

/// Table 21 with `{ESS item}` filled in: the authors' prompt text as stored in the table.
pub fn prompt(question: &str) -> String {
    question.trim().to_string()
}

pub fn task(questions: &[EssQuestion], gold: Option<&[GoldRow]>) -> Result<Task> {
    if questions.is_empty() {
        return Err(Error::invalid(
            "no ess questions (expected rows of a question table: code, chapter, scale, question)",
        ));
    }
    let mut seen = HashSet::new();
    for q in questions {
        if !seen.insert(q.code.as_str()) {
            return Err(Error::invalid(format!(
                "ess question '{}' appears twice (expected each code once)",
                q.code
            )));
        }
    }
    let items = questions
        .iter()
        .enumerate()
        .map(|(key, q)| TaskItem {
            id: q.code.clone(),
            key,
            prompt: prompt(&q.question),
            options: q.scale.labels(),
            option_values: (0..q.scale.len())
                .map(|i| q.scale.rescale_index(i))
                .collect(),
            parser: Some(q.scale.clone()),
            subject: q.question.clone(),
        })
        .collect();
    let gold = gold.map(|rows| {
        rows.iter()
            .map(|r| ((r.group.clone(), r.code.clone()), r.mean))
            .collect()
    });
    Ok(Task {
        kind: TaskKind::Ess,
        keys: questions.iter().map(|q| q.code.clone()).collect(),
        categories: questions.iter().map(|q| q.chapter.clone()).collect(),
        items,
        pvq_key: None,
        gold,
        few_shot: None,
    })
}

/// Writes `valuelab predict ess` output: `group`, `code`, `prediction` (0..1; `NA` where every
/// sampled answer was unparseable), tab-separated.
pub fn write_predictions(path: &Path, records: &[ItemRecord]) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        writeln!(out, "group\tcode\tprediction")?;
        for r in records {
            let prediction = r
                .answer
                .map_or_else(|| "NA".to_string(), |a| format!("{a:.6}"));
            writeln!(out, "{}\t{}\t{prediction}", r.group, r.item)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;
    use valuelab_common::scale::AnswerScale;

    fn question(code: &str, scale: &str, text: &str) -> EssQuestion {
        EssQuestion {
            code: code.into(),
            chapter: "politics".into(),
            scale: AnswerScale::parse(scale).unwrap(),
            question: text.into(),
        }
    }

    fn gold(group: &str, code: &str, mean: f64) -> GoldRow {
        GoldRow {
            group: group.into(),
            code: code.into(),
            mean,
            n: 10,
        }
    }

    #[test]
    fn builds_151_items_from_the_real_questions_with_their_scales() {
        let questions =
            crate::data::ess::read_questions(&shared_data().ess_questions_tsv()).unwrap();
        let task = task(&questions, None).unwrap();
        assert_eq!(task.items.len(), 151);
        assert_eq!(task.keys.len(), 151);
        let ppltrst = task.items.iter().find(|i| i.id == "ppltrst").unwrap();
        assert_eq!(ppltrst.options.len(), 11);
        assert_eq!(ppltrst.options[10], "10");
        assert!(
            ppltrst.prompt.ends_with("Answer: my answer is"),
            "{}",
            ppltrst.prompt
        );
        assert_eq!(task.categories[ppltrst.key], "media_and_social_trust");
        let yes_no = task
            .items
            .iter()
            .find(|i| i.options == ["Yes", "No"])
            .unwrap();
        assert_eq!(yes_no.option_values, [0.0, 1.0]);
        assert_eq!(yes_no.expected_answer(&[0.25, 0.75]), 0.75);
    }

    #[test]
    fn few_shot_examples_come_from_other_questions_with_the_groups_gold() {
        let qs = vec![
            question("a", "0-10", "Q a? Answer: my answer is"),
            question("b", "Yes|No", "Q b? Answer: my answer is"),
            question("c", "0-4", "Q c? Answer: my answer is"),
        ];
        let rows = vec![
            gold("G", "a", 0.72),
            gold("G", "b", 0.9),
            gold("G", "c", 0.1),
            gold("H", "b", 0.2),
        ];
        let mut t = task(&qs, Some(&rows)).unwrap();
        FewShot::enable(&mut t, 5, 7).unwrap();
        // Asking "a" for G: both other questions, with the labels nearest to the gold means.
        let p = t.prompt_for(0, "G");
        assert!(p.ends_with("\n\nQ a? Answer: my answer is"), "{p}");
        assert!(p.contains("Q b? Answer: my answer is No\n\n"), "{p}");
        assert!(p.contains("Q c? Answer: my answer is 0\n\n"), "{p}");
        assert!(
            !p.contains("my answer is 7"),
            "the asked question's own gold is never shown: {p}"
        );
        // H has gold only for "b": asking "b" shows no example, asking "a" shows one.
        assert_eq!(t.prompt_for(1, "H"), "Q b? Answer: my answer is");
        assert_eq!(
            t.prompt_for(0, "H"),
            "Q b? Answer: my answer is Yes\n\nQ a? Answer: my answer is"
        );
        // The same seed draws the same examples.
        FewShot::enable(&mut t, 1, 7).unwrap();
        assert_eq!(t.prompt_for(0, "G"), t.prompt_for(0, "G"));
    }

    #[test]
    fn few_shot_without_gold_asks_for_it() {
        let mut t = task(&[question("a", "0-10", "Q a?")], None).unwrap();
        let err = FewShot::enable(&mut t, 2, 0).unwrap_err();
        assert_eq!(err.field(), Some(crate::Field::Gold));
        assert!(err.to_string().contains("gold table"), "{err}");
    }
}
