//! A job's record, `job.json`: the full spec it ran, the valuelab version and git commit that ran
//! it, its seed, and one entry per invocation (a cancelled run that is resumed adds one), so a
//! result can always be traced to the exact work and code that made it.

use super::Job;
use crate::output::{now_utc, read_json, write_json};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The git commit valuelab was built from (empty when built outside a git checkout).
const GIT_COMMIT: &str = env!("VALUELAB_GIT_COMMIT");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Finished,
    /// Stopped by its cancel token; running the same job again resumes it.
    Cancelled,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The spec of the latest invocation that did not fail.
    pub job: Job,
    pub valuelab_version: String,
    pub git_commit: Option<String>,
    pub seed: Option<u64>,
    /// How the latest invocation that did not fail ended (`failed` if none has succeeded).
    pub status: JobStatus,
    /// When the first invocation started (RFC 3339 UTC).
    pub started: String,
    /// When the job finished, once it has.
    pub finished: Option<String>,
    pub invocations: Vec<Invocation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    pub started: String,
    pub seconds: f64,
    pub status: JobStatus,
    /// The error of a failed invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads a record.
pub fn read(path: &Path) -> Result<JobRecord> {
    read_json(path, "job record")
}

/// Adds an invocation to the record at `path` (a new record when there is none, or when the one
/// there cannot be read) and writes it atomically.
pub fn append_invocation(
    path: &Path,
    job: &Job,
    started: String,
    seconds: f64,
    status: JobStatus,
    error: Option<String>,
) -> Result<()> {
    let git_commit = (!GIT_COMMIT.is_empty()).then(|| GIT_COMMIT.to_string());
    let version = env!("CARGO_PKG_VERSION").to_string();
    // An unreadable record is replaced: the invocation at hand is what there is to say.
    let mut record = read(path).unwrap_or_else(|_| JobRecord {
        job: job.clone(),
        valuelab_version: version.clone(),
        git_commit: git_commit.clone(),
        seed: job.seed(),
        status,
        started: started.clone(),
        finished: None,
        invocations: Vec::new(),
    });
    // A failed invocation (say, a different job pointed at this folder) must not replace the
    // spec of the work the folder holds; it is only listed.
    if status != JobStatus::Failed {
        record.job = job.clone();
        record.valuelab_version = version;
        record.git_commit = git_commit;
        record.seed = job.seed();
        record.status = status;
    }
    if status == JobStatus::Finished {
        record.finished = Some(now_utc());
    }
    record.invocations.push(Invocation {
        started,
        seconds,
        status,
        error,
    });
    write_json(path, &record)
}
