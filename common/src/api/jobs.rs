//! The job queue (issue 9): jobs submitted from the web app, their progress and their log.
//! `POST /api/jobs` takes a job spec exactly as `valuelab <command> --print-spec` prints it.

use serde::{Deserialize, Serialize};

/// Where a job stands. `interrupted`: its worker died (server killed, heartbeat lost); Resume
/// queues it again and it continues from its run folder or checkpoint.
pub const JOB_STATUSES: [&str; 6] = [
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "interrupted",
];

/// Items (evaluation) or optimizer steps (training) finished, of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    pub done: i64,
    pub total: i64,
}

/// The latest figures of a running job (each where the job has it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    /// Evaluation: the group being asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_per_s: Option<f64>,
    /// Training: the step's loss and epoch (1-based, as the command line prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Seconds left at the current rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_s: Option<f64>,
}

/// `GET /api/jobs/{id}` (and each entry of `GET /api/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i32,
    /// The spec's `job`: `eval`, `train`, `groups`, `vim-data`, `predict`, `report`.
    pub kind: String,
    /// One of [`JOB_STATUSES`].
    pub status: String,
    /// `local` (the server's worker) or `slurm`.
    pub backend: String,
    pub progress: JobProgress,
    #[serde(default)]
    pub detail: JobDetail,
    /// The evaluation's run in the explorer (`GET /api/runs/{id}`), once it finished.
    pub run_id: Option<i32>,
    pub error: Option<String>,
    /// The job's output folder (or file) on the server's disk.
    pub out: String,
    /// The spec as stored (pretty JSON; its output path absolute).
    pub spec: String,
    pub attempts: i32,
    pub slurm_job_id: Option<String>,
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Whether Cancel was asked and the job has not stopped yet.
    pub cancel_requested: bool,
    /// A Slurm job's array tasks (`GET /api/jobs/{id}` only; empty for local jobs).
    #[serde(default)]
    pub tasks: Vec<ArrayTask>,
}

/// One task of a job submitted to Slurm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayTask {
    pub index: usize,
    /// `pending`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// The target groups it asks (empty: the whole job).
    pub groups: Vec<String>,
    /// Its log on the cluster's file system.
    pub log: String,
}

/// `POST /api/jobs` answers 201 with the new job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCreated {
    pub id: i32,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLogLine {
    pub id: i32,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub line: String,
}

/// `GET /api/jobs/{id}/log?after=N`: the lines after line id N (all without it), and the id to
/// ask after next time (polling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLog {
    pub status: String,
    pub lines: Vec<JobLogLine>,
    pub next_after: i32,
}

/// A spec saved under a name for the run form (`GET`/`POST /api/job-templates`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTemplate {
    pub id: i32,
    pub name: String,
    /// The spec (JSON text).
    pub spec: String,
}

/// `POST /api/job-templates`: a name and a spec (JSON text or object, stored as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJobTemplate {
    pub name: String,
    pub spec: String,
}
