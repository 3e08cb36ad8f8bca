//! The server's job worker: a few threads of its own (one per concurrent job, 1 by default)
//! that take queued jobs from the database and run them through the job layer, so model work
//! never runs on actix's threads and the web stays responsive while a model runs. Each job's
//! model work gets a rayon pool of the configured size (all cores but one by default).
//!
//! Taking a job is one write transaction (the database's write lock), so two workers — in this
//! server or another on the same database — never take the same job. While a job runs, a
//! heartbeat thread writes `heartbeat_at` and reads the row's cancel flag, which is how Cancel
//! reaches a job from any server. Before looking for work, a worker sweeps: a running job whose
//! heartbeat went stale lost its worker and is marked interrupted.
//! When the server stops (Ctrl-C), running jobs are stopped at their next batch or step and
//! marked interrupted, to be resumed. Jobs for Slurm are submitted and followed by a thread of
//! their own (`on_slurm`), started beside the workers.

use super::on_slurm::SlurmFollower;
use super::sink::DbSink;
use super::{append_log, load, sweep_stale};
use crate::configuration::JobSettings;
use crate::db::models::JobRow;
use crate::db::schema::jobs;
use crate::db::{now_ms, now_s, Db, DbPool};
use crate::error::ApiResult;
use crate::state::write_transaction;
use diesel::prelude::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use valuelab_engine::jobs::{self as engine_jobs, CancelToken, Job, JobOutput, RunOutcome};

/// How long an idle worker waits before looking for work again.
const POLL: Duration = Duration::from_millis(500);

/// The running worker threads; [`JobWorkers::stop`] ends them.
pub struct JobWorkers {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

struct Shared {
    pool: DbPool,
    settings: JobSettings,
    threads: usize,
    data_dir: Option<PathBuf>,
    stopping: Arc<AtomicBool>,
    /// The cancel tokens of the jobs running in this process, stopped with the server.
    running: Mutex<HashMap<i32, CancelToken>>,
}

impl JobWorkers {
    /// Starts `settings.workers` threads (none for 0: this server only queues).
    pub fn start(
        pool: DbPool,
        settings: &JobSettings,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<JobWorkers> {
        let shared = Arc::new(Shared {
            pool,
            settings: settings.clone(),
            threads: settings.threads(),
            data_dir: data_dir.map(Path::to_path_buf),
            stopping: Arc::new(AtomicBool::new(false)),
            running: Mutex::new(HashMap::new()),
        });
        let mut handles = (0..settings.workers)
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("valuelab-job-{i}"))
                    .spawn(move || work(&shared))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        if settings.workers > 0 {
            handles.extend(SlurmFollower::start(
                shared.pool.clone(),
                settings,
                data_dir,
                shared.stopping.clone(),
            )?);
        }
        Ok(JobWorkers { shared, handles })
    }

    /// Stops taking jobs, asks the running ones to stop at their next batch or step (they are
    /// marked interrupted, resumable), and waits for the threads.
    pub fn stop(self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for token in self.shared.running().values() {
            token.cancel();
        }
        for handle in self.handles {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i32, CancelToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self) -> ApiResult<crate::db::PooledDb> {
        Ok(self.pool.get()?)
    }
}

fn work(shared: &Shared) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let next = shared.conn().and_then(|mut conn| {
            sweep_stale(&mut conn, shared.settings.stale_ms)?;
            claim(&mut conn)
        });
        match next {
            Ok(Some(row)) => run_claimed(shared, row),
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                eprintln!("valuelab serve: job worker: {e}");
                std::thread::sleep(POLL * 4);
            }
        }
    }
}

/// Takes the oldest queued local job, if any, marking it running.
fn claim(conn: &mut Db) -> ApiResult<Option<JobRow>> {
    let oldest = |conn: &mut Db| -> QueryResult<Option<i32>> {
        jobs::table
            .filter(jobs::status.eq("queued"))
            .filter(jobs::backend.eq("local"))
            .order(jobs::id.asc())
            .select(jobs::id)
            .first(conn)
            .optional()
    };
    // Read first: the write lock is taken only when there is a job to take.
    if oldest(conn)?.is_none() {
        return Ok(None);
    }
    write_transaction(conn, |conn| {
        let Some(id) = oldest(conn)? else {
            return Ok(None);
        };
        diesel::update(jobs::table.find(id))
            .set((
                jobs::status.eq("running"),
                jobs::started_at.eq(Some(now_s())),
                jobs::heartbeat_at.eq(Some(now_ms())),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::cancel_requested.eq(false),
            ))
            .execute(conn)?;
        let row = load(conn, id)?;
        append_log(conn, id, &format!("started (attempt {})", row.attempts))?;
        Ok(Some(row))
    })
}

fn run_claimed(shared: &Shared, row: JobRow) {
    let job = match serde_json::from_str::<Job>(&row.spec) {
        Ok(job) => prepare(job, &row, shared),
        Err(e) => {
            let error = format!("its stored spec no longer reads: {e}");
            return store_end(shared, &row, Ended::Failed(error), None);
        }
    };
    let token = CancelToken::new();
    shared.running().insert(row.id, token.clone());
    let sink = DbSink::new(shared.pool.clone(), row.id);
    let (stop_heartbeat, heartbeat_stopped) = channel::<()>();
    let outcome = std::thread::scope(|scope| {
        let every = Duration::from_millis(shared.settings.heartbeat_ms);
        let token = &token;
        scope.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = heartbeat_stopped.recv_timeout(every) {
                heartbeat(shared, row.id, token);
            }
        });
        let outcome = catch_unwind(AssertUnwindSafe(|| engine_jobs::run(&job, &sink, token)));
        drop(stop_heartbeat);
        outcome
    });
    shared.running().remove(&row.id);
    let ended = match outcome {
        Ok(Ok(outcome)) if outcome.is_cancelled() => {
            if shared.stopping.load(Ordering::SeqCst) {
                Ended::Interrupted(outcome)
            } else {
                Ended::Cancelled(outcome)
            }
        }
        Ok(Ok(outcome)) => Ended::Done(outcome),
        Ok(Err(e)) => Ended::Failed(format!("{:#}", anyhow::Error::from(e))),
        Err(panic) => Ended::Failed(format!(
            "internal error: the job panicked ({}); the server log has more",
            panic_message(&panic)
        )),
    };
    store_end(shared, &row, ended, Some(&job));
}

/// The stored spec with what the server fills at run time: its data folder, the thread count,
/// and `resume` for a training that ran before (it continues from its checkpoint).
fn prepare(job: Job, row: &JobRow, shared: &Shared) -> Job {
    let mut job = job.with_defaults(shared.data_dir.as_deref(), Some(shared.threads));
    match &mut job {
        Job::Train(j) => j.training.resume = j.training.resume || row.attempts > 1,
        Job::VimCond(j) => j.training.resume = j.training.resume || row.attempts > 1,
        Job::VimHeldOut(j) => j.training.resume = j.training.resume || row.attempts > 1,
        _ => {}
    }
    job
}

/// Writes the heartbeat and passes a Cancel from the database to the job.
fn heartbeat(shared: &Shared, id: i32, token: &CancelToken) {
    let result = shared.conn().and_then(|mut conn| {
        write_transaction(&mut conn, |conn| {
            diesel::update(jobs::table.find(id))
                .set(jobs::heartbeat_at.eq(Some(now_ms())))
                .execute(conn)?;
            Ok(jobs::table
                .find(id)
                .select(jobs::cancel_requested)
                .first::<bool>(conn)?)
        })
    });
    match result {
        Ok(true) => token.cancel(),
        Ok(false) => {}
        Err(e) => eprintln!("valuelab serve: job {id}: heartbeat: {e}"),
    }
}

enum Ended {
    Done(RunOutcome),
    Cancelled(RunOutcome),
    /// Stopped with the server: resumable.
    Interrupted(RunOutcome),
    Failed(String),
}

/// Records how the job ended; an evaluation's run folder goes into the explorer.
fn store_end(shared: &Shared, row: &JobRow, ended: Ended, job: Option<&Job>) {
    let run_id = job.and_then(|job| import_run(shared, job));
    let (status, error, line) = match &ended {
        Ended::Done(o) => ("done", None, format!("done in {:.1} s", o.seconds)),
        Ended::Cancelled(o) => (
            "cancelled",
            None,
            format!("cancelled after {:.1} s{}; Resume continues", o.seconds, so_far(o)),
        ),
        Ended::Interrupted(o) => (
            "interrupted",
            Some("the server stopped; Resume continues from the finished items or the last checkpoint".to_string()),
            format!("stopped with the server after {:.1} s{}", o.seconds, so_far(o)),
        ),
        Ended::Failed(e) => ("failed", Some(e.clone()), format!("failed: {e}")),
    };
    let result = shared.conn().and_then(|mut conn| {
        write_transaction(&mut conn, |conn| {
            diesel::update(jobs::table.find(row.id))
                .set((
                    jobs::status.eq(status),
                    jobs::error.eq(error),
                    jobs::finished_at.eq(Some(now_s())),
                    jobs::heartbeat_at.eq(None::<i64>),
                ))
                .execute(conn)?;
            if let Some(run_id) = run_id {
                diesel::update(jobs::table.find(row.id))
                    .set(jobs::run_id.eq(Some(run_id)))
                    .execute(conn)?;
            }
            if let Ended::Done(outcome) = &ended {
                if let Some((done, total)) = items(outcome) {
                    diesel::update(jobs::table.find(row.id))
                        .set((
                            jobs::progress_done.eq(done as i64),
                            jobs::progress_total.eq(total as i64),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(append_log(conn, row.id, &line)?)
        })
    });
    if let Err(e) = result {
        eprintln!(
            "valuelab serve: job {}: cannot record its end ({status}): {e}",
            row.id
        );
    }
}

/// An evaluation's or a simulation's items at its end.
fn items(outcome: &RunOutcome) -> Option<(usize, usize)> {
    match &outcome.output {
        JobOutput::Eval(out) => Some((out.done, out.total)),
        JobOutput::Simulate(out) => Some((out.done, out.total)),
        _ => None,
    }
}

fn so_far(outcome: &RunOutcome) -> String {
    items(outcome)
        .map(|(done, total)| format!(", {done} of {total} items saved"))
        .unwrap_or_default()
}

/// Imports an evaluation's run folder into the explorer (finished or not); its run id.
fn import_run(shared: &Shared, job: &Job) -> Option<i32> {
    let Job::Eval(eval) = job else { return None };
    if !eval
        .out
        .join(valuelab_engine::eval::runner::RUN_FILE)
        .is_file()
    {
        return None;
    }
    let path = eval.out.display().to_string();
    let imported = shared
        .conn()
        .and_then(|mut conn| crate::runs::import::import(&mut conn, &[path]));
    match imported {
        Ok(runs) => runs.first().map(|r| r.id),
        Err(e) => {
            eprintln!("valuelab serve: importing {}: {e}", eval.out.display());
            None
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}
