//! VIM training data (the paper's Section 3): prompt/answer pairs that inject a target group's
//! value distribution into a model, by argument generation (`ag`, Algorithm 1, Table 16) and
//! question answering (`qa`, Algorithm 2, Table 17). Reads arguments from `data::touche`; the
//! trainer (`train`) and `valuelab vim data` (JSONL for other tools) consume the examples.

pub mod ag;
pub mod profiles;
pub mod qa;

pub use ag::{argument_generation_examples, unlabelled_count, Rule, DEFAULT_THRESHOLD};
pub use qa::question_answering_examples;

use crate::data::groups::TargetGroup;
use crate::data::touche::Argument;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;
use valuelab_common::ValueDistribution;

/// Which VIM method an example trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Argument generation.
    Ag,
    /// Question answering.
    Qa,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Ag => "ag",
            Task::Qa => "qa",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One training pair; a JSONL line `{"prompt": .., "answer": .., "task": "ag"|"qa", "argument_id": ..}`,
/// with `"persona"` for `vim-cond` examples, whose profile is in the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingExample {
    /// Text before the prompt that carries the profile (the short prompt of Table 22 for
    /// `vim-cond`); empty for a one-group adapter, whose values are in its weights.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub persona: String,
    pub prompt: String,
    pub answer: String,
    pub task: Task,
    /// The argument's id ([`Argument::id`]).
    pub argument_id: usize,
}

/// Which examples a VIM adapter trains on: one method or both (`vim`). Not to be confused with
/// `eval::Method`, how values reach the model at evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainingMethod {
    Ag,
    Qa,
    Vim,
}

impl TrainingMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingMethod::Ag => "ag",
            TrainingMethod::Qa => "qa",
            TrainingMethod::Vim => "vim",
        }
    }
}

impl fmt::Display for TrainingMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrainingMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<TrainingMethod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ag" => Ok(TrainingMethod::Ag),
            "qa" => Ok(TrainingMethod::Qa),
            "vim" => Ok(TrainingMethod::Vim),
            other => Err(Error::invalid(format!(
                "unknown method '{other}' (expected ag, qa or vim)"
            ))),
        }
    }
}

/// Fails unless argument generation's threshold γ is a number.
pub fn check_threshold(threshold: f64) -> Result<()> {
    if !threshold.is_finite() {
        return Err(Error::input(
            crate::Field::Threshold,
            format!("the threshold must be a number on the 1..6 scale, got {threshold}"),
        ));
    }
    Ok(())
}

/// Anything that carries a target value distribution: a [`TargetGroup`] or a bare
/// [`ValueDistribution`].
pub trait Profile {
    fn distribution(&self) -> &ValueDistribution;
}

impl Profile for ValueDistribution {
    fn distribution(&self) -> &ValueDistribution {
        self
    }
}

impl Profile for TargetGroup {
    fn distribution(&self) -> &ValueDistribution {
        &self.values
    }
}

/// The examples of `method`. For `vim`, the argument-generation and question-answering examples
/// are interleaved at random (seeded), each list keeping its own order, so that a trainer that
/// reads them in order sees both tasks throughout.
pub fn examples(
    method: TrainingMethod,
    arguments: &[Argument],
    group: &impl Profile,
    rule: Rule,
    threshold: f64,
    seed: u64,
) -> Vec<TrainingExample> {
    match method {
        TrainingMethod::Ag => argument_generation_examples(arguments, group, rule, threshold),
        TrainingMethod::Qa => question_answering_examples(arguments, group, seed),
        TrainingMethod::Vim => vim_examples(arguments, group, rule, threshold, seed),
    }
}

/// Both methods' examples, interleaved deterministically from `seed` (the QA rounding draws use
/// `seed` too, on a separate stream).
pub fn vim_examples(
    arguments: &[Argument],
    group: &impl Profile,
    rule: Rule,
    threshold: f64,
    seed: u64,
) -> Vec<TrainingExample> {
    let ag = argument_generation_examples(arguments, group, rule, threshold);
    let qa = question_answering_examples(arguments, group, seed);
    interleave(ag, qa, seed)
}

/// Merges two lists keeping each one's order: at each step the next example comes from a list with
/// probability proportional to what it has left, so every interleaving is equally likely.
fn interleave(a: Vec<TrainingExample>, b: Vec<TrainingExample>, seed: u64) -> Vec<TrainingExample> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A stream of its own, so the interleave does not replay the rounding draws.
    rng.set_stream(1);
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut left_a, mut left_b) = (a.len(), b.len());
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    while left_a + left_b > 0 {
        let take_a = rng.random_range(0..left_a + left_b) < left_a;
        let next = if take_a { a.next() } else { b.next() };
        if take_a {
            left_a -= 1;
        } else {
            left_b -= 1;
        }
        out.extend(next);
    }
    out
}

/// Writes one JSON object per line, atomically (a crash leaves no half-written file).
pub fn write_jsonl(path: &Path, examples: &[TrainingExample]) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        for example in examples {
            serde_json::to_writer(&mut *out, example)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Reads examples written by [`write_jsonl`] or by another tool with the same fields.
pub fn read_jsonl(path: &Path) -> Result<Vec<TrainingExample>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::file(path, None, format!("cannot open: {e}")))?;
    let mut examples = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::file(path, Some(i + 1), format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let example = serde_json::from_str(&line).map_err(|e| {
            Error::file(
                path,
                Some(i + 1),
                format!("{e} (expected a JSON object with prompt, answer, task \"ag\"/\"qa\" and argument_id)"),
            )
        })?;
        examples.push(example);
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::golden::{read_golden_labels, GOLDEN_THRESHOLD};
    use crate::data::groups::{find_group, read_groups};
    use crate::data::testdata::shared_data;
    use crate::data::touche::{read_arguments, Split};

    #[test]
    fn vim_interleaves_both_tasks_keeping_their_order() {
        let data = shared_data();
        let args = read_arguments(&data.split_csv(Split::Valid)).unwrap();
        let groups = read_groups(&data.groups_csv()).unwrap();
        let group = find_group(&groups, "Belgium").unwrap();
        let ag = argument_generation_examples(&args, group, Rule::Mean, DEFAULT_THRESHOLD);
        let qa = question_answering_examples(&args, group, 5);
        let vim = vim_examples(&args, group, Rule::Mean, DEFAULT_THRESHOLD, 5);
        assert_eq!(vim.len(), ag.len() + qa.len());
        assert_eq!(ag.len(), args.len());
        let expressed: usize = args.iter().map(|a| a.expressed_values().count()).sum();
        assert_eq!(qa.len(), expressed);
        let only = |t: Task| {
            vim.iter()
                .filter(|e| e.task == t)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(only(Task::Ag), ag);
        assert_eq!(only(Task::Qa), qa);
        // Mixed from the start, not one block after the other.
        assert!(
            vim[..40].iter().any(|e| e.task == Task::Ag)
                && vim[..40].iter().any(|e| e.task == Task::Qa)
        );
        assert_eq!(
            vim_examples(&args, group, Rule::Mean, DEFAULT_THRESHOLD, 5),
            vim
        );
        assert_ne!(
            vim_examples(&args, group, Rule::Mean, DEFAULT_THRESHOLD, 6),
            vim
        );
    }

    /// The released labels of a group cover the authors' train and valid files: the mean rule on
    /// those arguments gives as many "I would say" as the released `pos` rows.
    #[test]
    fn mean_rule_on_train_and_valid_matches_the_released_label_counts() {
        let data = shared_data();
        let groups = read_groups(&data.groups_csv()).unwrap();
        let labels = read_golden_labels(&data.golden_ag_labels_tsv()).unwrap();
        let mut args = read_arguments(&data.split_csv(Split::Train)).unwrap();
        args.extend(read_arguments(&data.split_csv(Split::Valid)).unwrap());
        for name in ["Albania", "Group_2", "Group_78"] {
            let released: Vec<_> = labels.iter().filter(|l| l.group == name).collect();
            let group = find_group(&groups, name).unwrap();
            let ours = argument_generation_examples(&args, group, Rule::Mean, GOLDEN_THRESHOLD);
            assert_eq!(ours.len(), released.len(), "{name}");
            let say = ours
                .iter()
                .filter(|e| e.answer.starts_with("I would say"))
                .count();
            assert_eq!(
                say,
                released.iter().filter(|l| l.would_say).count(),
                "{name}"
            );
        }
    }

    #[test]
    fn jsonl_round_trips_with_the_documented_fields() {
        let example = TrainingExample {
            persona: String::new(),
            prompt: "Tell me \"x\"".into(),
            answer: "I would say".into(),
            task: Task::Qa,
            argument_id: 12,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vim.jsonl");
        write_jsonl(&path, &[example.clone(), example.clone()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"prompt":"Tell me \"x\"","answer":"I would say","task":"qa","argument_id":12}"#
        );
        assert_eq!(read_jsonl(&path).unwrap(), vec![example.clone(), example]);

        std::fs::write(&path, "{\"prompt\":\"p\"}\n").unwrap();
        let err = read_jsonl(&path).unwrap_err().to_string();
        assert!(err.contains("vim.jsonl line 1: missing field"), "{err}");
    }

    #[test]
    fn methods_parse_from_their_names() {
        assert_eq!(
            "VIM".parse::<TrainingMethod>().unwrap(),
            TrainingMethod::Vim
        );
        assert!("both"
            .parse::<TrainingMethod>()
            .unwrap_err()
            .to_string()
            .contains("expected ag, qa or vim"));
    }
}
