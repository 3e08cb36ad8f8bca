//! Where a submitted array stands, task by task, and what happens when it ends: `squeue` for
//! the tasks still in the queue, the task folders for those that left it (a task whose run
//! folder holds `results.json`, or whose job record says finished, is done; one that left the
//! queue without either failed — its log says why), `scancel` to stop them, and the merge of
//! an evaluation's task folders into its run folder.

use super::Submission;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use valuelab_engine::eval::run_result::RESULTS_FILE;
use valuelab_engine::jobs::array::{merge, task_dir, ArrayPlan};
use valuelab_engine::jobs::{record, Job, JobStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub index: usize,
    /// `pending`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// The groups the task asks (empty: the whole job).
    pub groups: Vec<String>,
    pub log: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayStatus {
    pub job_id: String,
    pub tasks: Vec<TaskState>,
    pub done: usize,
    /// No task is pending or running any more.
    pub ended: bool,
}

impl ArrayStatus {
    pub fn all_done(&self) -> bool {
        self.done == self.tasks.len()
    }
}

/// The spec and its split, as submitted.
fn plan_of(submission: &Submission) -> anyhow::Result<(Job, ArrayPlan)> {
    let job = Job::from_json_file(&submission.spec)?;
    let plan = ArrayPlan::of(&job, submission.groups_per_task)?;
    if plan.len() != submission.tasks {
        bail!(
            "the spec now splits into {} tasks, not the {} submitted (did the groups table change?)",
            plan.len(),
            submission.tasks
        );
    }
    Ok((job, plan))
}

/// Every task's state.
pub fn status(submission: &Submission) -> anyhow::Result<ArrayStatus> {
    let (job, plan) = plan_of(submission)?;
    let queued = queued_tasks(&submission.job_id)?;
    let tasks: Vec<TaskState> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(index, groups)| {
            let state = match queued.get(&index) {
                Some(state) => state.clone(),
                None => finished_state(&job, &plan, index),
            };
            TaskState {
                index,
                state,
                groups: groups.clone(),
                log: submission.dir.join(format!("task-{index}.log")),
            }
        })
        .collect();
    Ok(ArrayStatus {
        job_id: submission.job_id.clone(),
        done: tasks.iter().filter(|t| t.state == "done").count(),
        ended: !tasks
            .iter()
            .any(|t| t.state == "pending" || t.state == "running"),
        tasks,
    })
}

/// Tasks of `job_id` still in the queue, by array index. A job Slurm no longer knows (all its
/// tasks ended and were purged) has none.
fn queued_tasks(job_id: &str) -> anyhow::Result<HashMap<usize, String>> {
    let output = Command::new("squeue")
        .args(["-h", "-r", "-j", job_id, "-o", "%K|%T"])
        .output()
        .context("cannot run squeue (is Slurm's client installed, and SLURM_CONF set?)")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("Invalid job id") {
            return Ok(HashMap::new());
        }
        bail!("squeue failed: {}", stderr.trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (index, state) = line.trim().split_once('|')?;
            let state = match state {
                "PENDING" | "REQUEUED" | "SUSPENDED" => "pending",
                "RUNNING" | "CONFIGURING" | "COMPLETING" => "running",
                "COMPLETED" => "done",
                "CANCELLED" => "cancelled",
                _ => "failed",
            };
            Some((index.parse().ok()?, state.to_string()))
        })
        .collect())
}

/// The state of a task that left the queue, from what it wrote.
fn finished_state(job: &Job, plan: &ArrayPlan, index: usize) -> String {
    let record_status = plan
        .task(job, index)
        .ok()
        .and_then(|task| record::read(&task.record_path()).ok())
        .map(|r| r.status);
    let results = match job {
        Job::Eval(eval) => task_dir(&eval.out, index).join(RESULTS_FILE).is_file(),
        _ => record_status == Some(JobStatus::Finished),
    };
    match (results, record_status) {
        (true, _) => "done",
        (false, Some(JobStatus::Cancelled)) => "cancelled",
        _ => "failed",
    }
    .to_string()
}

/// `scancel`s every task still queued or running.
pub fn cancel(submission: &Submission) -> anyhow::Result<()> {
    let output = Command::new("scancel")
        .arg(&submission.job_id)
        .output()
        .context("cannot run scancel")?;
    if !output.status.success() {
        bail!(
            "scancel {} failed: {}",
            submission.job_id,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Once every task is done: an evaluation's task folders merged into its run folder, whose path
/// is returned for the explorer; `None` for other jobs, whose outputs are already in place.
pub fn finish(submission: &Submission) -> anyhow::Result<Option<PathBuf>> {
    let (job, plan) = plan_of(submission)?;
    match &job {
        Job::Eval(eval) => {
            merge(eval, &plan)?;
            Ok(Some(eval.out.clone()))
        }
        _ => Ok(None),
    }
}
