//! The results explorer's runs (issue 9): run folders imported into the database.

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
