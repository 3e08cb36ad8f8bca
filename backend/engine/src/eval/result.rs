//! The files of a run directory (docs/eval-format.md): `run.json` (what was run, how fast),
//! `items.jsonl` (one [`ItemRecord`] per answered group and item) and `results.json`
//! (`RunResult`, in `run_result`).

use super::{AnswerMode, MethodLabel, TaskKind};
use serde::{Deserialize, Serialize};

/// One line of `items.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub group: String,
    /// PVQ item number / ValueNet scenario id / ESS code / argument id.
    pub item: String,
    /// Option probabilities (expect mode), in the order of the item's options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probs: Option<Vec<f64>>,
    /// Raw generations (sample mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Vec<String>>,
    /// The item's answer on 0..1; `None` when every sample was unparseable. PVQ: (answer − 1)/5;
    /// ValueNet: the probability (or share of samples) of the answer that matches the scenario's
    /// label, i.e. the item's agreement; ESS: the answer rescaled by its scale.
    pub answer: Option<f64>,
    pub parse_failures: usize,
    pub refusals: usize,
    /// Argument generation only: what a human evaluator needs beside the generations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<ArgumentGeneration>,
}

/// A generated argument (Table 19: stance, then premise), stored for human evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgumentGeneration {
    pub conclusion: String,
    pub method: MethodLabel,
    /// "in favor of" / "against", parsed from the stance generation; `None` when unparseable.
    pub stance: Option<String>,
    /// The raw stance generation.
    pub stance_text: String,
    /// The generated premise; `None` when the stance could not be parsed (no premise prompt).
    pub premise: Option<String>,
    /// `expect` mode: the lead-in the premise continues ("I agree that X, because"), written by
    /// valuelab, not the model. Absent in the paper's sampled protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premise_lead_in: Option<String>,
}

impl ArgumentGeneration {
    /// The premise as a reader sees it: the lead-in, when there is one, then the generation.
    pub fn premise_text(&self) -> Option<String> {
        let premise = self.premise.as_deref()?.trim();
        Some(match self.premise_lead_in.as_deref() {
            Some(lead_in) => format!("{lead_in} {premise}"),
            None => premise.to_string(),
        })
    }
}

/// `run.json`: the run's configuration and its speed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub task: TaskKind,
    pub method: MethodLabel,
    pub model: String,
    pub adapter: Option<String>,
    pub answer_mode: AnswerMode,
    pub groups_file: String,
    pub groups: Vec<String>,
    pub seed: u64,
    pub samples: usize,
    pub shots: usize,
    pub limit_items: Option<usize>,
    pub gold: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    pub valuelab_version: String,
    /// One entry per invocation (a resumed run has several).
    #[serde(default)]
    pub speed: Vec<Speed>,
}

impl RunInfo {
    /// Whether `other` describes the same computation, so its finished items may be reused.
    pub fn same_run_as(&self, other: &RunInfo) -> bool {
        self.task == other.task
            && self.method == other.method
            && self.model == other.model
            && self.adapter == other.adapter
            && self.answer_mode == other.answer_mode
            && self.seed == other.seed
            && self.samples == other.samples
            && self.shots == other.shots
    }
}

/// Throughput of one invocation: prompt tokens the model processed and items answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    pub items: usize,
    pub tokens: u64,
    pub wall_s: f64,
    pub items_per_s: f64,
    pub tokens_per_s: f64,
}

impl Speed {
    pub fn new(items: usize, tokens: u64, wall_s: f64) -> Self {
        let per_s = |n: f64| if wall_s > 0.0 { n / wall_s } else { 0.0 };
        Speed {
            items,
            tokens,
            wall_s,
            items_per_s: per_s(items as f64),
            tokens_per_s: per_s(tokens as f64),
        }
    }
}
