//! The run format the evaluation runner writes and the report reads: `results.json` holds one
//! [`RunResult`] (contract in `docs/eval-format.md`). The runner (`eval`) serialises these same
//! structs, so a field renamed here breaks old run directories: keep the names.

use serde::{Deserialize, Serialize};
use std::path::Path;
use valuelab_common::VALUE_COUNT;

use crate::eval::{AnswerMode, MethodLabel, TaskKind};
use crate::{Error, Result};

/// File name of a finished run's results inside its run directory.
pub const RESULTS_FILE: &str = "results.json";

/// One finished evaluation run: one task, one method, every group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Serialised "pvq" | "valuenet" | "ess" | "args".
    pub task: TaskKind,
    /// Serialised "base", "prompt-short", ..., "prompt-long+3shot".
    pub method: MethodLabel,
    pub model: String,
    /// Serialised "expect" | "sample".
    pub answer_mode: AnswerMode,
    /// What is compared: value names (pvq, valuenet) or ESS codes.
    pub keys: Vec<String>,
    /// Per key: the value name, or the ESS chapter.
    pub categories: Vec<String>,
    pub groups: Vec<GroupResult>,
}

/// One target group's answers in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    pub group: String,
    pub size: Option<usize>,
    /// The group's target value distribution (1..6), in `ALL_VALUES` order.
    pub values: [f64; VALUE_COUNT],
    /// Per key, 0..1 (None: no gold for this key).
    pub target: Vec<Option<f64>>,
    /// Per key, 0..1 (None: every answer unparseable).
    pub predicted: Vec<Option<f64>>,
    /// Answers asked of the model (items in expect mode, items × samples in sample mode).
    pub answered: usize,
    pub parse_failures: usize,
    pub refusals: usize,
}

impl RunResult {
    /// Reads `DIR/results.json` and checks that every per-key vector matches `keys`.
    pub fn load(run_dir: &Path) -> Result<RunResult> {
        let path = run_dir.join(RESULTS_FILE);
        if !path.is_file() {
            return Err(Error::file(
                &path,
                None,
                "no results.json here (is this a run directory of `valuelab eval`, and did the run finish? an interrupted run resumes with the same `valuelab eval ... --out DIR`)",
            ));
        }
        let text = std::fs::read_to_string(&path)?;
        let run: RunResult = serde_json::from_str(&text).map_err(|e| {
            Error::file(&path, Some(e.line()), format!("not a valid RunResult: {e}"))
        })?;
        run.validate()
            .map_err(|message| Error::file(&path, None, message))?;
        Ok(run)
    }

    /// The shape checks a report relies on, as a message naming the first violation.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.categories.len() != self.keys.len() {
            return Err(format!(
                "{} categories for {} keys (expected one category per key)",
                self.categories.len(),
                self.keys.len()
            ));
        }
        for g in &self.groups {
            if g.target.len() != self.keys.len() || g.predicted.len() != self.keys.len() {
                return Err(format!(
                    "group '{}' has {} targets and {} predictions for {} keys (expected one per key)",
                    g.group,
                    g.target.len(),
                    g.predicted.len(),
                    self.keys.len()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_run() -> RunResult {
        RunResult {
            task: crate::eval::TaskKind::Pvq,
            method: "prompt-long".parse().unwrap(),
            model: "smollm2".into(),
            answer_mode: crate::eval::AnswerMode::Expect,
            keys: vec!["Achievement".into()],
            categories: vec!["Achievement".into()],
            groups: vec![GroupResult {
                group: "Group_1".into(),
                size: Some(12),
                values: [3.0; VALUE_COUNT],
                target: vec![Some(0.4)],
                predicted: vec![None],
                answered: 40,
                parse_failures: 1,
                refusals: 0,
            }],
        }
    }

    #[test]
    fn a_run_round_trips_through_results_json() {
        let dir = tempfile::tempdir().unwrap();
        let run = sample_run();
        std::fs::write(
            dir.path().join(RESULTS_FILE),
            serde_json::to_string(&run).unwrap(),
        )
        .unwrap();
        assert_eq!(RunResult::load(dir.path()).unwrap(), run);
    }

    #[test]
    fn the_json_field_names_are_those_of_the_contract() {
        let json = serde_json::to_value(sample_run()).unwrap();
        for field in [
            "task",
            "method",
            "model",
            "answer_mode",
            "keys",
            "categories",
            "groups",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        let group = &json["groups"][0];
        for field in [
            "group",
            "size",
            "values",
            "target",
            "predicted",
            "answered",
            "parse_failures",
            "refusals",
        ] {
            assert!(group.get(field).is_some(), "missing {field}");
        }
        assert!(group["predicted"][0].is_null());
    }

    #[test]
    fn a_missing_results_file_names_the_directory_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunResult::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("results.json") && err.contains("valuelab eval"),
            "{err}"
        );
    }

    #[test]
    fn a_group_with_too_few_predictions_is_rejected() {
        let mut run = sample_run();
        run.groups[0].predicted.clear();
        assert!(run.validate().unwrap_err().contains("Group_1"));
    }
}
