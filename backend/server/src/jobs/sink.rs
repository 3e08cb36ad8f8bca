//! A running job's events into the database: messages, checkpoints and validation losses as
//! log lines, items and steps as the row's progress and its latest figures (loss, tokens/s,
//! items/s, ETA). The run page polls both.
//!
//! Progress is written at most twice a second (and always at the last item or step): a tiny
//! model finishes batches in microseconds, and one write per batch would make the writes the
//! work. A failed write is reported on stderr and dropped: losing a progress line must not fail
//! the job.

use super::append_log;
use crate::db::schema::jobs;
use crate::db::DbPool;
use crate::error::ApiResult;
use crate::state::write_transaction;
use diesel::prelude::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use valuelab_common::api::jobs::JobDetail;
use valuelab_engine::jobs::{JobEvent, ProgressSink};
use valuelab_engine::train::TrainEvent;

const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub struct DbSink {
    pool: DbPool,
    job: i32,
    last_progress: Mutex<Option<Instant>>,
}

impl DbSink {
    pub fn new(pool: DbPool, job: i32) -> Self {
        DbSink {
            pool,
            job,
            last_progress: Mutex::new(None),
        }
    }

    fn write(&self, what: &str, work: impl FnOnce(&mut crate::db::Db) -> ApiResult<()>) {
        let result = self
            .pool
            .get()
            .map_err(Into::into)
            .and_then(|mut conn| write_transaction(&mut conn, work));
        if let Err(e) = result {
            eprintln!(
                "valuelab serve: job {}: cannot store its {what}: {e}",
                self.job
            );
        }
    }

    fn log(&self, line: &str) {
        self.write("log", |conn| Ok(append_log(conn, self.job, line)?));
    }

    /// Stores progress unless the last write was under [`PROGRESS_EVERY`] ago; the final item
    /// or step is always stored.
    fn progress(&self, done: usize, total: usize, detail: JobDetail) {
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
            let recent = last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY);
            if recent && done < total {
                return;
            }
            *last = Some(Instant::now());
        }
        let detail = serde_json::to_string(&detail).ok();
        self.write("progress", |conn| {
            diesel::update(jobs::table.find(self.job))
                .set((
                    jobs::progress_done.eq(done as i64),
                    jobs::progress_total.eq(total as i64),
                    jobs::detail.eq(detail),
                ))
                .execute(conn)?;
            Ok(())
        });
    }
}

impl ProgressSink for DbSink {
    fn event(&self, event: &JobEvent) {
        match event {
            JobEvent::Message { text } => self.log(text),
            JobEvent::Items(p) => self.progress(
                p.done,
                p.total,
                JobDetail {
                    group: Some(p.group.clone()),
                    items_per_s: Some(p.items_per_s),
                    eta_s: p.eta_s,
                    ..JobDetail::default()
                },
            ),
            JobEvent::Train { event } => self.train(event),
        }
    }
}

impl DbSink {
    fn train(&self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                total_steps,
                start_step,
                epochs,
                train_examples,
                valid_examples,
                trainable_params,
            } => {
                self.log(&format!(
                    "training: {total_steps} steps over {epochs} epochs, {train_examples} \
                     training and {valid_examples} validation examples, {trainable_params} \
                     trainable parameters{}",
                    if *start_step > 0 {
                        format!(", resumed at step {start_step}")
                    } else {
                        String::new()
                    }
                ));
                self.progress(*start_step, *total_steps, JobDetail::default());
            }
            TrainEvent::Step {
                step,
                total,
                epoch,
                loss,
                tokens_per_s,
                eta_s,
            } => self.progress(
                *step,
                *total,
                JobDetail {
                    loss: Some(*loss),
                    // 1-based, as the command line prints it (the trainer counts from 0).
                    epoch: Some(*epoch + 1),
                    tokens_per_s: Some(*tokens_per_s),
                    eta_s: Some(*eta_s),
                    ..JobDetail::default()
                },
            ),
            TrainEvent::Validation { epoch, step, loss } => self.log(&format!(
                "validation loss {loss:.4} after epoch {} (step {step})",
                epoch + 1
            )),
            TrainEvent::Checkpoint { step, path } => {
                self.log(&format!("checkpoint at step {step}: {}", path.display()))
            }
            TrainEvent::Finished {
                steps,
                train_loss,
                valid_loss,
                elapsed_s,
                adapter_dir,
            } => self.log(&format!(
                "training finished: {steps} steps in {elapsed_s:.0} s, train loss {}, \
                 validation loss {} → {}",
                loss_text(*train_loss),
                loss_text(*valid_loss),
                adapter_dir.display()
            )),
        }
    }
}

fn loss_text(loss: Option<f64>) -> String {
    loss.map_or("n/a".to_string(), |l| format!("{l:.4}"))
}
