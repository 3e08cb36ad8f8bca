//! The results explorer's runs (issue 9): run folders imported into the database.

use crate::stats::MeanInterval;
use serde::{Deserialize, Serialize};

/// One run folder (`GET /api/runs`, and `run` in `GET /api/runs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: i32,
    /// `pvq`, `valuenet`, `ess` or `args`.
    pub task: String,
    /// The method as reports name it (`prompt-long`, `vim`, `base+3shot`...).
    pub method: String,
    pub model: String,
    pub answer_mode: String,
    pub groups: Vec<String>,
    /// `done` (results written) or `incomplete` (interrupted; resumable).
    pub status: String,
    /// When the run started (RFC 3339, from its run.json).
    pub created: String,
    pub finished: Option<String>,
    /// The folder on the server's disk.
    pub path: String,
}

/// `POST /api/runs/import`: run folders, or folders holding run folders, on the server's disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRunsRequest {
    pub paths: Vec<String>,
}

/// One folder an import found (`POST /api/runs/import` answers a list of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedRun {
    pub id: i32,
    pub path: String,
    pub status: String,
    /// False when the folder was known already and its row was brought up to date.
    pub new: bool,
}

/// Filters of `GET /api/runs` (each optional; `group` matches runs that include the group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFilter {
    pub task: Option<String>,
    pub method: Option<String>,
    pub group: Option<String>,
    pub status: Option<String>,
}

/// One target group's figures in a finished run (`table` in `GET /api/runs/{id}`, and the rows
/// of `table.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunGroupRow {
    pub group: String,
    pub size: Option<usize>,
    /// Normalised mean squared error against the group's gold, where the task has gold.
    pub nmse: Option<f64>,
    pub answered: usize,
    pub parse_failures: usize,
    pub refusals: usize,
}

/// `GET /api/runs/compare?ids=&baseline=`: finished runs of one task side by side, with the
/// value-blind and value-regression baselines, differences against the pinned baseline run, and
/// runs that differ only in their seed aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunComparison {
    pub task: String,
    /// Target groups scored (those every run answered).
    pub groups: usize,
    /// The pinned run the differences are taken against.
    pub baseline: Option<i32>,
    /// One row per run, then the baselines.
    pub rows: Vec<ComparedRow>,
    pub seed_groups: Vec<SeedAggregate>,
    /// What the report left out and why.
    pub notes: Vec<String>,
}

/// One row of a comparison: a run (`kind` "run", with its id) or a baseline ("value-blind",
/// "value-regression").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedRow {
    pub run_id: Option<i32>,
    /// The method as the report names it (`prompt-long #2` when two runs share a method).
    pub label: String,
    pub method: String,
    pub kind: String,
    pub model: Option<String>,
    pub answer_mode: Option<String>,
    pub seed: Option<u64>,
    pub nmse: Option<f64>,
    pub value_blind_nmse: Option<f64>,
    /// 1 − NMSE / value-blind NMSE: above 0 beats the value-blind guess.
    pub skill: Option<f64>,
    /// Mean over items of the across-group Pearson r between target and model.
    pub between_group_r: Option<f64>,
    /// Mean over groups of the across-item Pearson r.
    pub profile_r: Option<f64>,
    pub parse_failure_rate: Option<f64>,
    /// This row minus the pinned baseline run.
    pub nmse_difference: Option<f64>,
    pub skill_difference: Option<f64>,
    pub between_group_r_difference: Option<f64>,
}

/// Runs of one method, model and answer mode with different seeds: mean and 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedAggregate {
    pub method: String,
    pub model: Option<String>,
    pub answer_mode: Option<String>,
    pub runs: Vec<i32>,
    pub seeds: Vec<u64>,
    pub nmse: Option<MeanInterval>,
    pub skill: Option<MeanInterval>,
    pub between_group_r: Option<MeanInterval>,
    pub profile_r: Option<MeanInterval>,
}

/// An annotation study built on a run's arguments (`studies` in `GET /api/runs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStudy {
    pub id: i32,
    pub name: String,
    /// The run's side in the study: "A" or "B".
    pub side: String,
    /// The method on the other side.
    pub other_method: String,
    /// Counted judgements (attention checks and failing annotators left out).
    pub judgements: usize,
    /// Shares of the counted judgements this run won, tied and lost (null before any).
    pub wins: Option<f64>,
    pub ties: Option<f64>,
    pub losses: Option<f64>,
}
