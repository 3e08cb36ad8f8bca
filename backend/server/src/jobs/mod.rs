//! The job queue: jobs admins submit from the web app (`POST /api/jobs`), stored as the job
//! layer's JSON spec in the `jobs` table and run by the server's worker threads ([`worker`])
//! through `valuelab_engine::jobs::run`, the same call the command line and a cluster task
//! make. The run folder stays the source of truth; the row says where the job stands.
//!
//! Life of a job: `queued` → `running` → `done` | `failed` | `cancelled`. A running job's
//! worker writes a heartbeat every few seconds; a worker that dies (the server killed) leaves a
//! heartbeat that goes stale, and the next sweep marks the job `interrupted` — never "running"
//! forever. Resume queues a cancelled, interrupted or failed job again: an evaluation continues
//! with the items its run folder lacks, a training from its last checkpoint.

pub mod on_slurm;
pub mod sink;
pub mod submit;
pub mod worker;

use crate::db::models::{JobLogLine, JobRow, NewJobLogLine};
use crate::db::schema::{job_log, jobs, users};
use crate::db::{now_ms, now_s, Db};
use crate::error::{ApiError, ApiResult};
use crate::state::write_transaction;
use diesel::prelude::*;
use valuelab_common::api::jobs::{
    ArrayTask, JobDetail, JobLog, JobProgress, JobView, JOB_STATUSES,
};

/// Statuses a job can be resumed from.
const RESUMABLE: [&str; 3] = ["cancelled", "interrupted", "failed"];
/// Statuses of a job that still owns its output folder.
const LIVE: [&str; 2] = ["queued", "running"];
/// Lines one log request returns at most (ask again after the last one for more).
const LOG_PAGE: i64 = 1_000;

/// The API's view of a job row.
pub fn view(conn: &mut Db, row: &JobRow) -> ApiResult<JobView> {
    let created_by: String = users::table
        .find(row.created_by)
        .select(users::username)
        .first(conn)?;
    let detail: JobDetail = row
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    Ok(JobView {
        id: row.id,
        kind: row.kind.clone(),
        status: row.status.clone(),
        backend: row.backend.clone(),
        progress: JobProgress {
            done: row.progress_done,
            total: row.progress_total,
        },
        detail,
        run_id: row.run_id,
        error: row.error.clone(),
        out: row.out.clone(),
        spec: row.spec.clone(),
        attempts: row.attempts,
        slurm_job_id: row.slurm_job_id.clone(),
        created_by,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        cancel_requested: row.cancel_requested && row.status == "running",
        tasks: Vec::new(),
    })
}

pub fn load(conn: &mut Db, id: i32) -> ApiResult<JobRow> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// Jobs, newest first, optionally of one status (an unknown status is a 400).
pub fn list(conn: &mut Db, status: Option<&str>) -> ApiResult<Vec<JobView>> {
    let mut query = jobs::table.into_boxed();
    if let Some(status) = status {
        if !JOB_STATUSES.contains(&status) {
            return Err(ApiError::bad_request(format!(
                "status: '{status}' is not one of {}",
                JOB_STATUSES.join(", ")
            )));
        }
        query = query.filter(jobs::status.eq(status.to_string()));
    }
    let rows: Vec<JobRow> = query
        .order(jobs::id.desc())
        .select(JobRow::as_select())
        .load(conn)?;
    rows.iter().map(|row| view(conn, row)).collect()
}

/// Cancel: a queued job never starts; a running one is asked to stop (its worker sees the flag
/// at its next heartbeat, and the job stops after the batch or step it is in, saving what it
/// finished). A job that already ended is a 409.
pub fn cancel(conn: &mut Db, id: i32) -> ApiResult<JobRow> {
    write_transaction(conn, |conn| {
        let row = load(conn, id)?;
        match row.status.as_str() {
            "queued" => {
                diesel::update(jobs::table.find(id))
                    .set((
                        jobs::status.eq("cancelled"),
                        jobs::finished_at.eq(Some(now_s())),
                    ))
                    .execute(conn)?;
                append_log(conn, id, "cancelled before it started")?;
            }
            "running" => {
                diesel::update(jobs::table.find(id))
                    .set(jobs::cancel_requested.eq(true))
                    .execute(conn)?;
                append_log(
                    conn,
                    id,
                    "cancel asked: stopping after the current batch or step",
                )?;
            }
            other => {
                return Err(ApiError::conflict(format!(
                    "job {id} is {other}: only a queued or running job can be cancelled"
                )))
            }
        }
        load(conn, id)
    })
}

/// Resume: queues a cancelled, interrupted or failed job again, unless another live job writes
/// to its output meanwhile.
pub fn resume(conn: &mut Db, id: i32) -> ApiResult<JobRow> {
    write_transaction(conn, |conn| {
        let row = load(conn, id)?;
        if !RESUMABLE.contains(&row.status.as_str()) {
            return Err(ApiError::conflict(format!(
                "job {id} is {}: only a {} job can be resumed",
                row.status,
                RESUMABLE.join(", ")
            )));
        }
        refuse_shared_output(conn, &row.out, Some(id))?;
        diesel::update(jobs::table.find(id))
            .set((
                jobs::status.eq("queued"),
                jobs::cancel_requested.eq(false),
                jobs::error.eq(None::<String>),
                jobs::finished_at.eq(None::<i64>),
            ))
            .execute(conn)?;
        append_log(conn, id, "resumed: queued again")?;
        load(conn, id)
    })
}

/// 409 when a queued or running job (other than `except`) writes to `out`: two jobs in one run
/// folder would interleave their items.
pub fn refuse_shared_output(conn: &mut Db, out: &str, except: Option<i32>) -> ApiResult<()> {
    let other: Option<i32> = jobs::table
        .filter(jobs::out.eq(out))
        .filter(jobs::status.eq_any(LIVE))
        .filter(jobs::id.ne(except.unwrap_or(-1)))
        .select(jobs::id)
        .first(conn)
        .optional()?;
    match other {
        Some(other) => Err(ApiError::conflict(format!(
            "out: job {other} is already writing to {out}; wait for it, cancel it, or choose \
             another folder"
        ))),
        None => Ok(()),
    }
}

/// The job's log lines after line `after` (all of them for 0), at most a page.
pub fn log(conn: &mut Db, id: i32, after: i32) -> ApiResult<JobLog> {
    let row = load(conn, id)?;
    let lines: Vec<JobLogLine> = job_log::table
        .filter(job_log::job_id.eq(id))
        .filter(job_log::id.gt(after))
        .order(job_log::id.asc())
        .limit(LOG_PAGE)
        .select(JobLogLine::as_select())
        .load(conn)?;
    let next_after = lines.last().map_or(after, |l| l.id);
    Ok(JobLog {
        status: row.status,
        lines: lines
            .into_iter()
            .map(|l| valuelab_common::api::jobs::JobLogLine {
                id: l.id,
                at_ms: l.at_ms,
                line: l.line,
            })
            .collect(),
        next_after,
    })
}

/// Adds a line to the job's log (inside the caller's transaction).
pub fn append_log(conn: &mut Db, id: i32, line: &str) -> QueryResult<()> {
    diesel::insert_into(job_log::table)
        .values(NewJobLogLine {
            job_id: id,
            at_ms: now_ms(),
            line,
        })
        .execute(conn)
        .map(drop)
}

/// The array tasks of a job submitted to Slurm, as `squeue` and its task folders tell (file
/// and process work: call it off the database threads). Empty for a local job, or when the
/// submission cannot be read any more.
pub fn array_tasks(row: &JobRow) -> Vec<ArrayTask> {
    if row.backend != "slurm" || row.slurm_job_id.is_none() {
        return Vec::new();
    }
    let state = serde_json::from_str::<valuelab_engine::jobs::Job>(&row.spec)
        .map_err(anyhow::Error::from)
        .and_then(|job| crate::slurm::load(&crate::slurm::submission_dir(&job)))
        .and_then(|submission| crate::slurm::status::status(&submission));
    match state {
        Ok(state) => state
            .tasks
            .into_iter()
            .map(|t| ArrayTask {
                index: t.index,
                state: t.state,
                groups: t.groups,
                log: t.log.display().to_string(),
            })
            .collect(),
        Err(e) => {
            eprintln!("valuelab serve: job {}: its Slurm tasks: {e:#}", row.id);
            Vec::new()
        }
    }
}

/// Marks running jobs whose heartbeat is older than `stale_ms` as interrupted; returns their
/// ids. Every worker sweeps before it looks for work, so a job whose server was killed is
/// marked at the next start, or by any other server on the same database.
pub fn sweep_stale(conn: &mut Db, stale_ms: u64) -> ApiResult<Vec<i32>> {
    let cutoff = now_ms() - stale_ms as i64;
    let stale = |conn: &mut Db| -> QueryResult<Vec<i32>> {
        jobs::table
            .filter(jobs::status.eq("running"))
            .filter(jobs::backend.eq("local"))
            .filter(
                jobs::heartbeat_at
                    .lt(cutoff)
                    .or(jobs::heartbeat_at.is_null()),
            )
            .select(jobs::id)
            .load(conn)
    };
    // Read first: the write lock is taken only when there is something to mark.
    if stale(conn)?.is_empty() {
        return Ok(Vec::new());
    }
    write_transaction(conn, |conn| {
        let ids = stale(conn)?;
        for &id in &ids {
            diesel::update(jobs::table.find(id))
                .set((
                    jobs::status.eq("interrupted"),
                    jobs::finished_at.eq(Some(now_s())),
                    jobs::error.eq(Some(
                        "its worker stopped (server killed or crashed); Resume continues from \
                         the finished items or the last checkpoint",
                    )),
                ))
                .execute(conn)?;
            append_log(conn, id, "interrupted: no heartbeat from its worker")?;
        }
        Ok(ids)
    })
}
