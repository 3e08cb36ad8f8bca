//! Reference labels for argument-generation training data (`golden_ag_labels_th3.tsv`), taken from
//! the per-group files the authors released for threshold 3: `group`, the argument's ten 0/1 value
//! columns, `score` (the group's mean score over the expressed values) and `label` (`pos` = "I
//! would say", `neg` = "I would not say").

use super::groups::value_columns;
use super::table::Table;
use crate::{Error, Result};
use std::path::Path;
use valuelab_common::VALUE_COUNT;

/// The threshold γ the released labels were made with.
pub const GOLDEN_THRESHOLD: f64 = 3.0;

#[derive(Debug, Clone, PartialEq)]
pub struct GoldenLabel {
    pub group: String,
    pub values: [bool; VALUE_COUNT],
    pub score: f64,
    /// `pos`: the group would say the argument.
    pub would_say: bool,
    /// Line in the file, for error messages of checks built on these labels.
    pub line: usize,
}

pub fn read_golden_labels(path: &Path) -> Result<Vec<GoldenLabel>> {
    let mut table = Table::open_tsv(path)?;
    let group = table.require("group")?;
    let score = table.require("score")?;
    let label = table.require("label")?;
    let value_cols = value_columns(&table)?;
    let mut labels = Vec::new();
    while let Some(row) = table.next_row()? {
        let mut values = [false; VALUE_COUNT];
        for (flag, &col) in values.iter_mut().zip(value_cols.iter()) {
            *flag = table.flag(&row, col)?;
        }
        let would_say = match table.cell(&row, label) {
            "pos" => true,
            "neg" => false,
            other => {
                return Err(table.error(row.line, format!("label '{other}' (expected pos or neg)")))
            }
        };
        labels.push(GoldenLabel {
            group: table.text(&row, group)?.to_string(),
            values,
            score: table.f64(&row, score)?,
            would_say,
            line: row.line,
        });
    }
    if labels.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no labels (expected one row per argument and group after the header)",
        ));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    #[test]
    fn reads_29694_labels_for_7_groups() {
        let labels = read_golden_labels(&shared_data().golden_ag_labels_tsv()).unwrap();
        assert_eq!(labels.len(), 29694);
        let mut groups: Vec<&str> = labels.iter().map(|l| l.group.as_str()).collect();
        groups.dedup();
        assert_eq!(groups.len(), 7);
        assert_eq!(labels[0].group, "Albania");
        assert_eq!(labels[0].score, 4.6725);
        assert!(labels[0].would_say);
    }

    #[test]
    fn an_unknown_label_names_the_line() {
        let header = "group\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\tscore\tlabel\n";
        let (_d, path) = file_with(
            "g.tsv",
            &format!("{header}A\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t4\tmaybe\n"),
        );
        let err = read_golden_labels(&path).unwrap_err().to_string();
        assert!(
            err.contains("g.tsv line 2: label 'maybe' (expected pos or neg)"),
            "{err}"
        );
    }
}
