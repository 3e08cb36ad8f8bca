//! `VimHeldOutJob`: per-group VIM as the protocol's yardstick (issue 11), one adapter for each
//! held-out profile of a conditioner's split and for each sign-check profile, every one trained
//! as `TrainJob` trains one group, with the same settings. `valuelab protocol --vim DIR` then
//! scores them beside the conditioners. The profiles go to `out/groups.csv` (the table every
//! adapter records as its groups file) and the split to `out/split.json`, the adapters to `out/<profile>/`, and one line per
//! adapter to `out/trained.jsonl` (steps, losses, seconds). An adapter already in place is kept,
//! so a stopped job continues where it stopped.

use super::profile_split::SplitRecord;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use super::train::{LoraTraining, TrainJob};
use super::vim_data::VimExamples;
use crate::adapter::peft::CONFIG_FILE;
use crate::data::groups::{read_groups, write_groups, TargetGroup};
use crate::data::DataDir;
use crate::output::JsonlLog;
use crate::protocol::profiles::{pick_groups, sign_profiles};
use crate::vim::{self, Rule, TrainingMethod};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The table of the profiles trained for, inside the job's folder.
pub const GROUPS_FILE: &str = "groups.csv";
/// One JSON line per adapter trained.
pub const TRAINED_FILE: &str = "trained.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimHeldOutJob {
    /// A conditioner's `split.json`, or the conditioner folder holding it: whose held-out
    /// profiles to train for.
    pub split: PathBuf,
    /// The research data (None: `VALUELAB_DATA_DIR`, then the download cache).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The groups table the conditioner was trained with (None: the data directory's).
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    /// With the sign-check profiles (the mean held-out profile, and it with one value raised).
    #[serde(default = "yes")]
    pub sign_check: bool,
    pub method: TrainingMethod,
    pub rule: Rule,
    pub threshold: f64,
    pub seed: u64,
    /// Each adapter's training; `out` is the folder of the adapter folders.
    #[serde(flatten)]
    pub training: LoraTraining,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq)]
pub struct VimHeldOutOutput {
    pub dir: PathBuf,
    /// Profiles with an adapter now, of `profiles`.
    pub trained: usize,
    pub profiles: usize,
    pub cancelled: bool,
}

/// One adapter's line in `trained.jsonl`.
#[derive(Debug, Serialize)]
struct Trained<'a> {
    group: &'a str,
    steps: usize,
    train_loss: Option<f64>,
    valid_loss: Option<f64>,
    seconds: f64,
}

impl VimHeldOutJob {
    /// The held-out profiles of the split, then (with `sign_check`) the sign-check profiles.
    pub fn profiles(&self, split: &SplitRecord) -> Result<Vec<TargetGroup>> {
        let groups_file = DataDir::file_or(
            self.groups_file.as_deref(),
            self.data_dir.as_deref(),
            DataDir::groups_csv,
        )?;
        let held = pick_groups(&read_groups(&groups_file)?, &split.held_out)?;
        let sign = match self.sign_check {
            true => sign_profiles(&held)?,
            false => Vec::new(),
        };
        Ok(held.into_iter().chain(sign).collect())
    }

    /// One profile's training, as `valuelab train --group NAME` would run it.
    fn train_job(&self, group: &TargetGroup) -> TrainJob {
        TrainJob {
            examples: VimExamples {
                data_dir: self.data_dir.clone(),
                groups_file: Some(self.training.out.join(GROUPS_FILE)),
                group: group.name.clone(),
                method: self.method,
                rule: self.rule,
                threshold: self.threshold,
                seed: self.seed,
            },
            training: LoraTraining {
                out: self.training.out.join(&group.name),
                ..self.training.clone()
            },
        }
    }

    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<VimHeldOutOutput> {
        vim::check_threshold(self.threshold)?;
        self.training.config(self.seed).validate()?;
        let split = SplitRecord::read(&self.split)?;
        let profiles = self.profiles(&split)?;
        let out = &self.training.out;
        // The split goes beside the adapters, so `valuelab protocol --vim DIR` finds it.
        split.write(out)?;
        write_groups(&out.join(GROUPS_FILE), &profiles)?;
        let mut output = VimHeldOutOutput {
            dir: out.clone(),
            trained: 0,
            profiles: profiles.len(),
            cancelled: false,
        };
        let mut trained_log = JsonlLog::open(&out.join(TRAINED_FILE), true)?;
        let started = Instant::now();
        let mut kept = 0;
        for (i, group) in profiles.iter().enumerate() {
            let job = self.train_job(group);
            if job.training.out.join(CONFIG_FILE).is_file() {
                output.trained += 1;
                kept += 1;
                continue;
            }
            sink.event(&JobEvent::message(format!(
                "profile {} of {}: {} ({:.0} s so far)",
                i + 1,
                profiles.len(),
                group.name,
                started.elapsed().as_secs_f64()
            )));
            let one = Instant::now();
            let summary = job.run(sink, cancel)?.summary;
            if summary.cancelled {
                output.cancelled = true;
                return Ok(output);
            }
            output.trained += 1;
            let line = Trained {
                group: &group.name,
                steps: summary.steps,
                train_loss: summary.train_loss,
                valid_loss: summary.valid_loss,
                seconds: one.elapsed().as_secs_f64(),
            };
            trained_log.append(&line)?;
        }
        if kept > 0 {
            // Kept whatever settings made them: other settings need another folder.
            sink.event(&JobEvent::message(format!(
                "{kept} adapters were in {} already and were kept (to train them with other settings, give another --out)",
                out.display()
            )));
        }
        sink.event(&JobEvent::message(format!(
            "{} adapters in {} ({:.0} s); score them with `valuelab protocol --vim {}`",
            output.trained,
            out.display(),
            started.elapsed().as_secs_f64(),
            out.display()
        )));
        Ok(output)
    }
}

#[cfg(test)]
#[path = "vim_held_out_tests.rs"]
mod tests;
