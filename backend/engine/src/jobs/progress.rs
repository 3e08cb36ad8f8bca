//! How a running job tells its watcher where it stands, and how the watcher asks it to stop.
//! One sink trait for every entry point: the CLI draws an indicatif bar, the server stores the
//! events, a cluster task writes them as JSON lines ([`JsonLinesSink`]).
//!
//! Threads: a job calls its sink on the thread it runs on; the cancel token may be set from any
//! thread (a Ctrl-C handler, a web request) and is read between items and steps.

use crate::eval::Progress as ItemProgress;
use crate::train::TrainEvent;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What a job reports while it works, serialised with a `kind` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobEvent {
    /// A line for a person: what was loaded, what was skipped, what was written.
    Message { text: String },
    /// Evaluation and prediction: items finished after each batch.
    Items(ItemProgress),
    /// Training: started, each step, validation, checkpoints, finished.
    Train { event: TrainEvent },
}

impl JobEvent {
    pub fn message(text: impl Into<String>) -> Self {
        JobEvent::Message { text: text.into() }
    }
}

/// Receives a job's events, in order, on the job's thread.
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: &JobEvent);
}

/// Any `Fn(&JobEvent)` is a sink (tests, small callers).
impl<F: Fn(&JobEvent) + Send + Sync> ProgressSink for F {
    fn event(&self, event: &JobEvent) {
        self(event)
    }
}

/// Drops every event.
pub struct NullSink;

impl ProgressSink for NullSink {
    fn event(&self, _: &JobEvent) {}
}

/// Writes each event as one JSON line (a cluster task's log). A write error is ignored: losing
/// a progress line must not fail the job.
pub struct JsonLinesSink<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLinesSink<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send> ProgressSink for JsonLinesSink<W> {
    fn event(&self, event: &JobEvent) {
        if let (Ok(line), Ok(mut out)) = (serde_json::to_string(event), self.out.lock()) {
            let _ = writeln!(out, "{line}").and_then(|_| out.flush());
        }
    }
}

/// Asks a running job to stop. Clones share one flag; a job checks it between items (evaluation)
/// and steps (training), saves what it finished, and returns a cancelled outcome whose run
/// directory resumes when the same job is run again.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for the loops below the job layer.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_sink_writes_one_tagged_object_per_event() {
        let sink = JsonLinesSink::new(Vec::new());
        sink.event(&JobEvent::message("loaded"));
        sink.event(&JobEvent::Train {
            event: TrainEvent::Validation {
                epoch: 0,
                step: 3,
                loss: 0.5,
            },
        });
        let text = String::from_utf8(sink.out.into_inner().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"kind":"message","text":"loaded"}"#);
        assert_eq!(
            lines[1],
            r#"{"kind":"train","event":{"event":"validation","epoch":0,"step":3,"loss":0.5}}"#
        );
        let back: JobEvent = serde_json::from_str(lines[1]).unwrap();
        assert!(matches!(back, JobEvent::Train { .. }));
    }

    #[test]
    fn a_cancel_from_a_clone_reaches_the_job() {
        let token = CancelToken::new();
        let handed_out = token.clone();
        assert!(!token.is_cancelled());
        handed_out.cancel();
        assert!(token.is_cancelled() && token.flag().load(Ordering::SeqCst));
    }
}
