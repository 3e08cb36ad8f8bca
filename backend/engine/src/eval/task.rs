//! What every evaluation task shares: items with a prompt and scored options, the keys a report
//! compares (values or ESS codes), each group's target per key, and how item answers become a
//! group's prediction per key. The task files (`pvq`, `valuenet`, `ess`, `argument_generation`) build
//! them.

use crate::data::groups::TargetGroup;
use crate::{Error, Field, Result};
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use valuelab_common::Value;

/// Serialised as the command-line spelling (`valuenet`), as in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Pvq,
    ValueNet,
    Ess,
    Args,
}

impl TaskKind {
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Pvq => "pvq",
            TaskKind::ValueNet => "valuenet",
            TaskKind::Ess => "ess",
            TaskKind::Args => "args",
        }
    }
}

impl PartialEq<&str> for TaskKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TaskKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        [
            TaskKind::Pvq,
            TaskKind::ValueNet,
            TaskKind::Ess,
            TaskKind::Args,
        ]
        .into_iter()
        .find(|t| t.name() == s.trim())
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown task '{s}' (expected one of: pvq, valuenet, ess, args)"
            ))
        })
    }
}

/// One question of a task.
#[derive(Debug, Clone)]
pub struct TaskItem {
    /// PVQ item number, ValueNet scenario id, ESS code or argument id.
    pub id: String,
    /// Index into [`Task::keys`] of what this item measures.
    pub key: usize,
    /// The task description that follows the persona (Tables 18–21).
    pub prompt: String,
    /// The surface forms scored in expect mode, in scale order.
    pub options: Vec<String>,
    /// Each option's answer on 0..1 (PVQ: (k − 1)/5; ValueNet: 1 for the answer that matches
    /// the label; ESS: the scale position rescaled).
    pub option_values: Vec<f64>,
    /// Reads a sampled answer as an option index; `None` for free text (argument generation).
    pub parser: Option<valuelab_common::scale::AnswerScale>,
    /// What the item is about without the instructions: the PVQ statement, the ValueNet
    /// scenario, the ESS question, the debated conclusion (which argument generation's stance
    /// and premise prompts are built around).
    pub subject: String,
}

impl TaskItem {
    /// The expected answer on 0..1 from option probabilities.
    pub fn expected_answer(&self, probs: &[f64]) -> f64 {
        probs
            .iter()
            .zip(&self.option_values)
            .map(|(p, v)| p * v)
            .sum()
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub kind: TaskKind,
    /// What a report compares: value names (pvq, valuenet) or ESS codes; empty for args.
    pub keys: Vec<String>,
    /// Per key: the value name or the ESS chapter.
    pub categories: Vec<String>,
    pub items: Vec<TaskItem>,
    /// PVQ: the value each item scores (the PVQ key), parallel to `items`.
    pub pvq_key: Option<Vec<Value>>,
    /// ESS: gold group means per (group, code), 0..1.
    pub gold: Option<HashMap<(String, String), f64>>,
    /// ESS few-shot examples (`--shots N`).
    pub few_shot: Option<FewShot>,
}

impl Task {
    /// Keeps `n` items (quick runs), taken round-robin over keys and, within a key, over
    /// answer keyings (ValueNet's positive and negative scenarios), so a short run still covers
    /// every value with balanced scenarios where the task has them.
    pub fn limit_items(&mut self, n: usize) {
        if n >= self.items.len() {
            return;
        }
        let mut buckets: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let label = format!("{}:{:?}", item.key, item.option_values);
            match buckets.iter_mut().find(|(l, _)| *l == label) {
                Some((_, list)) => list.push(i),
                None => buckets.push((label, vec![i])),
            }
        }
        let by_key: Vec<Vec<usize>> = buckets.into_iter().map(|(_, list)| list).collect();
        let mut keep = Vec::with_capacity(n);
        let mut round = 0;
        while keep.len() < n {
            for list in &by_key {
                if let Some(&i) = list.get(round) {
                    if keep.len() < n {
                        keep.push(i);
                    }
                }
            }
            round += 1;
        }
        keep.sort_unstable();
        self.items = keep.iter().map(|&i| self.items[i].clone()).collect();
        if let Some(key) = &self.pvq_key {
            self.pvq_key = Some(keep.iter().map(|&i| key[i]).collect());
        }
    }

    /// The prompt of item `index` for `group` (few-shot examples depend on the group's gold).
    pub fn prompt_for(&self, index: usize, group: &str) -> String {
        match &self.few_shot {
            Some(shots) => shots.prompt(self, index, group),
            None => self.items[index].prompt.clone(),
        }
    }

    /// The group's target per key on 0..1: its rescaled value score (pvq, valuenet) or the gold
    /// mean (ess; `None` without gold).
    pub fn target(&self, group: &TargetGroup) -> Vec<Option<f64>> {
        match self.kind {
            TaskKind::Pvq | TaskKind::ValueNet => {
                let scores = group.values.normalised();
                self.keys
                    .iter()
                    .map(|k| k.parse::<Value>().ok().map(|v| scores[v.index()]))
                    .collect()
            }
            TaskKind::Ess => self
                .keys
                .iter()
                .map(|code| {
                    self.gold
                        .as_ref()
                        .and_then(|g| g.get(&(group.name.clone(), code.clone())).copied())
                })
                .collect(),
            TaskKind::Args => Vec::new(),
        }
    }

    /// The group's prediction per key on 0..1 from its item answers (parallel to `items`).
    pub fn predicted(&self, answers: &[Option<f64>]) -> Result<Vec<Option<f64>>> {
        match (self.kind, &self.pvq_key) {
            (TaskKind::Args, _) => Ok(Vec::new()),
            (TaskKind::Pvq, Some(key)) => {
                // Back to the questionnaire's 1..6 scale, scored by the PVQ key, rescaled.
                let answers_1_6: Vec<Option<f64>> =
                    answers.iter().map(|a| a.map(|a| 1.0 + 5.0 * a)).collect();
                let scores = valuelab_common::pvq::score_pvq(key, &answers_1_6)
                    .map_err(|e| Error::invalid(format!("pvq scoring: {e}")))?;
                Ok(self
                    .keys
                    .iter()
                    .map(|k| {
                        let v = k.parse::<Value>().ok()?;
                        scores.mean(v).map(|m| (m - 1.0) / 5.0)
                    })
                    .collect())
            }
            _ => {
                let mut sums = vec![0.0; self.keys.len()];
                let mut counts = vec![0usize; self.keys.len()];
                for (item, answer) in self.items.iter().zip(answers) {
                    if let Some(a) = answer {
                        sums[item.key] += a;
                        counts[item.key] += 1;
                    }
                }
                Ok(sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, &n)| (n > 0).then(|| s / n as f64))
                    .collect())
            }
        }
    }
}

/// Few-shot examples for ESS questions (`--shots N`, see `ess`) from the group's gold answers
/// to other questions.
#[derive(Debug, Clone, PartialEq)]
pub struct FewShot {
    pub shots: usize,
    pub seed: u64,
}

impl FewShot {
    /// Turns few-shot prompting on for `task`; it needs gold answers to show.
    pub fn enable(task: &mut Task, shots: usize, seed: u64) -> Result<()> {
        if task.kind != TaskKind::Ess {
            return Err(Error::input(
                Field::Shots,
                format!("few-shot examples are for the ess task, not {}", task.kind),
            ));
        }
        if shots == 0 {
            task.few_shot = None;
            return Ok(());
        }
        if task.gold.is_none() {
            return Err(Error::input(
                Field::Gold,
                "few-shot examples need the groups' gold answers to show: give the gold table (from `valuelab groups gold`)",
            ));
        }
        task.few_shot = Some(FewShot { shots, seed });
        Ok(())
    }

    /// The prompt of item `index` for `group`: up to `shots` examples, then the question.
    pub fn prompt(&self, task: &Task, index: usize, group: &str) -> String {
        let item = &task.items[index];
        let empty = HashMap::new();
        let gold = task.gold.as_ref().unwrap_or(&empty);
        let candidates: Vec<(usize, f64)> = task
            .items
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .filter_map(|(j, other)| {
                gold.get(&(group.to_string(), other.id.clone()))
                    .map(|&m| (j, m))
            })
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            self.seed
                ^ crate::output::stable_hash(group)
                ^ crate::output::stable_hash(&item.id).rotate_left(17),
        );
        let mut text = String::new();
        for &(j, mean) in candidates.choose_multiple(&mut rng, self.shots) {
            let example = &task.items[j];
            text.push_str(&example.prompt);
            text.push(' ');
            text.push_str(&nearest_label(example, mean));
            text.push_str("\n\n");
        }
        text.push_str(&item.prompt);
        text
    }
}

/// The option whose rescaled position is nearest to a gold mean on 0..1.
fn nearest_label(item: &TaskItem, mean: f64) -> String {
    let mut best = 0;
    for (i, v) in item.option_values.iter().enumerate() {
        if (v - mean).abs() < (item.option_values[best] - mean).abs() {
            best = i;
        }
    }
    item.options[best].clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;

    #[test]
    fn a_limited_valuenet_run_keeps_every_value_with_both_polarities() {
        let scenarios =
            crate::data::valuenet::read_valuenet(&shared_data().valuenet_dir()).unwrap();
        let mut task = super::super::valuenet::task(&scenarios).unwrap();
        task.limit_items(20);
        assert_eq!(task.items.len(), 20);
        for key in 0..10 {
            let of_key: Vec<&TaskItem> = task.items.iter().filter(|i| i.key == key).collect();
            assert_eq!(of_key.len(), 2, "value {key}");
            assert_ne!(
                of_key[0].option_values, of_key[1].option_values,
                "one positive, one negative"
            );
        }
    }

    #[test]
    fn a_limited_pvq_run_keeps_the_pvq_key_aligned() {
        let items = crate::data::pvq::read_pvq40(&shared_data().pvq40_items_tsv()).unwrap();
        let mut task = super::super::pvq::task(&items).unwrap();
        task.limit_items(10);
        assert_eq!(task.items.len(), 10);
        let key = task.pvq_key.clone().unwrap();
        assert_eq!(key.len(), 10);
        for (item, value) in task.items.iter().zip(key) {
            assert_eq!(item.key, value.index());
        }
        // One item per value: the ten values are all there.
        let mut keys: Vec<usize> = task.items.iter().map(|i| i.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..10).collect::<Vec<_>>());
    }
}
