//! What a training run reports while it works. The trainer calls one callback with each event on
//! its own thread; the CLI draws a progress bar from them, the server stores them, and every
//! event is also appended to `training_log.jsonl` in the output folder (one JSON object a line,
//! tagged by `event`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    /// Emitted once per run (again after a resume, with `start_step` > 0).
    Started {
        total_steps: usize,
        start_step: usize,
        epochs: usize,
        train_examples: usize,
        valid_examples: usize,
        trainable_params: usize,
    },
    /// After each optimizer step. `loss` is the mean cross-entropy per answer token of the step;
    /// `tokens_per_s` counts every token fed through the model (prompt and answer).
    Step {
        step: usize,
        total: usize,
        epoch: usize,
        loss: f64,
        tokens_per_s: f64,
        eta_s: f64,
    },
    /// Mean cross-entropy per answer token on the validation set, after each epoch (and when a
    /// step budget ends a run early).
    Validation {
        epoch: usize,
        step: usize,
        loss: f64,
    },
    /// A resumable checkpoint was written.
    Checkpoint { step: usize, path: PathBuf },
    Finished {
        steps: usize,
        train_loss: Option<f64>,
        valid_loss: Option<f64>,
        elapsed_s: f64,
        adapter_dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_tagged_json_lines() {
        let e = TrainEvent::Validation {
            epoch: 2,
            step: 40,
            loss: 1.25,
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"event":"validation","epoch":2,"step":40,"loss":1.25}"#
        );
        assert_eq!(serde_json::from_str::<TrainEvent>(&line).unwrap(), e);
    }
}
