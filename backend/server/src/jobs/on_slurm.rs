//! Jobs posted with `"backend": "slurm"`: one thread of the server submits each queued one
//! (`slurm::submit`, the path of `valuelab ... --backend slurm`) and follows the running ones
//! every few seconds — progress is array tasks done of all, Cancel is `scancel`, and an
//! evaluation whose tasks all finished is merged and imported into the explorer. No heartbeat:
//! the cluster, not this server, runs the tasks, so a restart loses nothing and the next server
//! goes on following them.

use super::{append_log, load};
use crate::configuration::JobSettings;
use crate::db::models::JobRow;
use crate::db::schema::jobs;
use crate::db::{now_s, Db, DbPool};
use crate::error::ApiResult;
use crate::slurm::{self, status, SlurmOptions};
use crate::state::write_transaction;
use diesel::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use valuelab_engine::jobs::Job;

/// How often submitted jobs are looked at.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

pub struct SlurmFollower {
    pub pool: DbPool,
    pub options: SlurmOptions,
    pub exe: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub stopping: Arc<AtomicBool>,
}

impl SlurmFollower {
    pub fn start(
        pool: DbPool,
        settings: &JobSettings,
        data_dir: Option<&Path>,
        stopping: Arc<AtomicBool>,
    ) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
        let Some(options) = settings.slurm.clone() else {
            return Ok(None);
        };
        let exe = match &settings.slurm_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()?,
        };
        let follower = SlurmFollower {
            pool,
            options,
            exe,
            data_dir: data_dir.map(Path::to_path_buf),
            stopping,
        };
        Ok(Some(
            std::thread::Builder::new()
                .name("valuelab-slurm".into())
                .spawn(move || follower.run())?,
        ))
    }

    fn run(&self) {
        while !self.stopping.load(Ordering::SeqCst) {
            if let Err(e) = self.tick() {
                eprintln!("valuelab serve: slurm jobs: {e}");
            }
            std::thread::sleep(FOLLOW_EVERY);
        }
    }

    fn tick(&self) -> ApiResult<()> {
        let mut conn = self.pool.get()?;
        let rows: Vec<JobRow> = jobs::table
            .filter(jobs::backend.eq("slurm"))
            .filter(jobs::status.eq_any(["queued", "running"]))
            .order(jobs::id.asc())
            .select(JobRow::as_select())
            .load(&mut conn)?;
        for row in rows {
            match row.status.as_str() {
                "queued" => self.submit(&mut conn, &row)?,
                _ => self.follow(&mut conn, &row)?,
            }
        }
        Ok(())
    }

    fn job(&self, row: &JobRow) -> Result<Job, String> {
        serde_json::from_str::<Job>(&row.spec)
            .map(|job| job.with_defaults(self.data_dir.as_deref(), None))
            .map_err(|e| format!("its stored spec no longer reads: {e}"))
    }

    fn submit(&self, conn: &mut Db, row: &JobRow) -> ApiResult<()> {
        let submitted = self.job(row).and_then(|job| {
            slurm::submit(&job, &self.options, self.data_dir.as_deref(), &self.exe)
                .map_err(|e| format!("{e:#}"))
        });
        write_transaction(conn, |conn| {
            // Cancelled while it was being submitted: nothing to follow.
            if load(conn, row.id)?.status != "queued" {
                return Ok(());
            }
            match &submitted {
                Ok(s) => {
                    diesel::update(jobs::table.find(row.id))
                        .set((
                            jobs::status.eq("running"),
                            jobs::slurm_job_id.eq(Some(&s.job_id)),
                            jobs::started_at.eq(Some(now_s())),
                            jobs::attempts.eq(jobs::attempts + 1),
                            jobs::progress_done.eq(0),
                            jobs::progress_total.eq(s.tasks as i64),
                        ))
                        .execute(conn)?;
                    append_log(
                        conn,
                        row.id,
                        &format!(
                            "submitted to Slurm as job {} ({} array tasks; files in {})",
                            s.job_id,
                            s.tasks,
                            s.dir.display()
                        ),
                    )?;
                }
                Err(e) => end(conn, row.id, "failed", Some(e), None)?,
            }
            Ok(())
        })
    }

    fn follow(&self, conn: &mut Db, row: &JobRow) -> ApiResult<()> {
        let submission = self.job(row).and_then(|job| {
            slurm::load(&slurm::submission_dir(&job)).map_err(|e| format!("{e:#}"))
        });
        let submission = match submission {
            Ok(s) => s,
            Err(e) => {
                return write_transaction(conn, |conn| end(conn, row.id, "failed", Some(&e), None))
            }
        };
        if row.cancel_requested {
            if let Err(e) = status::cancel(&submission) {
                eprintln!("valuelab serve: job {}: {e:#}", row.id);
            }
        }
        let state = status::status(&submission)?;
        if !state.ended {
            diesel::update(jobs::table.find(row.id))
                .set(jobs::progress_done.eq(state.done as i64))
                .execute(conn)?;
            return Ok(());
        }
        let (outcome, error, run_dir) = if state.all_done() {
            match status::finish(&submission) {
                Ok(run_dir) => ("done", None, run_dir),
                Err(e) => (
                    "failed",
                    Some(format!("merging the task folders: {e:#}")),
                    None,
                ),
            }
        } else if row.cancel_requested {
            ("cancelled", None, None)
        } else {
            let failed: Vec<String> = state
                .tasks
                .iter()
                .filter(|t| t.state != "done")
                .map(|t| format!("{} ({}, log {})", t.index, t.state, t.log.display()))
                .collect();
            let error = format!(
                "array tasks did not finish: {}; Resume submits them again",
                failed.join("; ")
            );
            ("failed", Some(error), None)
        };
        let run_id = match &run_dir {
            Some(dir) => crate::runs::import::import(conn, &[dir.display().to_string()])?
                .first()
                .map(|r| r.id),
            None => None,
        };
        write_transaction(conn, |conn| {
            diesel::update(jobs::table.find(row.id))
                .set(jobs::progress_done.eq(state.done as i64))
                .execute(conn)?;
            end(conn, row.id, outcome, error.as_deref(), run_id)
        })
    }
}

/// Records the end of a Slurm job.
fn end(
    conn: &mut Db,
    id: i32,
    status: &str,
    error: Option<&str>,
    run_id: Option<i32>,
) -> ApiResult<()> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(status),
            jobs::error.eq(error),
            jobs::run_id.eq(run_id),
            jobs::finished_at.eq(Some(now_s())),
        ))
        .execute(conn)?;
    append_log(
        conn,
        id,
        &match error {
            Some(e) => format!("{status}: {e}"),
            None => status.to_string(),
        },
    )?;
    Ok(())
}
