//! The command line's progress sink: job messages on stderr, an indicatif bar for items and
//! training steps on a terminal, and one line per step when stderr is not a terminal (logs, CI).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use valuelab_engine::jobs::{JobEvent, ProgressSink};
use valuelab_engine::train::TrainEvent;

#[derive(Default)]
pub struct TerminalSink {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Clears the bar (before the summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = self.lock().take() {
            bar.finish_and_clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn line(&self, text: &str) {
        match &*self.lock() {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    fn new_bar(&self, total: u64, template: &str) -> ProgressBar {
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        *self.lock() = Some(bar.clone());
        bar
    }

    fn bar(&self) -> Option<ProgressBar> {
        self.lock().clone()
    }

    fn train(&self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                total_steps,
                start_step,
                trainable_params,
                ..
            } => {
                let bar = self.new_bar(*total_steps as u64, "{bar:30} {pos}/{len} steps  {msg}");
                bar.set_position(*start_step as u64);
                self.line(&format!("training {trainable_params} adapter parameters for {total_steps} steps (from step {start_step})"));
            }
            TrainEvent::Step {
                step,
                total,
                epoch,
                loss,
                tokens_per_s,
                eta_s,
            } => {
                let msg = format!(
                    "epoch {} loss {loss:.4}  {tokens_per_s:.0} tok/s  eta {}",
                    epoch + 1,
                    eta(*eta_s)
                );
                match self.bar() {
                    Some(bar) if !bar.is_hidden() => {
                        bar.set_position(*step as u64);
                        bar.set_message(msg);
                    }
                    _ => eprintln!("step {step}/{total} {msg}"),
                }
            }
            TrainEvent::Validation { epoch, step, loss } => self.line(&format!(
                "validation after epoch {} (step {step}): loss {loss:.4}",
                epoch + 1
            )),
            TrainEvent::Checkpoint { step, path } => {
                self.line(&format!("checkpoint at step {step}: {}", path.display()))
            }
            TrainEvent::Finished { .. } => self.finish(),
        }
    }
}

impl ProgressSink for TerminalSink {
    fn event(&self, event: &JobEvent) {
        match event {
            JobEvent::Message { text } => self.line(text),
            JobEvent::Items(p) => {
                let bar = match self.bar() {
                    Some(bar) => bar,
                    None => self.new_bar(p.total as u64, "{bar:30} {pos}/{len} items  {msg}"),
                };
                bar.set_position(p.done as u64);
                let eta = p
                    .eta_s
                    .map(|s| format!(", ETA {}", clock(s)))
                    .unwrap_or_default();
                bar.set_message(format!("{}  {:.2} items/s{eta}", p.group, p.items_per_s));
            }
            JobEvent::Train { event } => self.train(event),
        }
    }
}

fn eta(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
