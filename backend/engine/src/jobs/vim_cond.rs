//! `valuelab train --method vim-cond`: one LoRA adapter for every profile. VIM's argument
//! generation and question answering examples (Algorithms 1 and 2) are drawn for many training
//! profiles at once, each with the profile's short prompt (Table 22) as its persona
//! (`vim::profiles`), so the adapter has to read the profile instead of memorising one group.
//! Profiles are split as for the profile conditioners (`profile_split`: countries and 20 k-means
//! groups held out); training examples come from Touché's train split and the training
//! profiles, validation examples from its valid split and the validation profiles.
//!
//! Writes to `out` the PEFT adapter with `training_log.jsonl` and `trainer_state.json`, the
//! record `valuelab_adapter.json` (method `vim-cond`, the mean training profile) and
//! `split.json`. Evaluate with `--method vim-cond --adapter OUT`: the same short prompt for each
//! group, this one adapter for all. Cancelled, it stops at a checkpoint; `resume` continues
//! (the examples are drawn again from the same seed, identically).

use super::profile_split::ProfileSources;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use super::train::LoraTraining;
use crate::adapter::provenance::{
    self, AdapterProvenance, ANY_PROFILE, PROFILE_IN_PROMPT_METHOD, TWO_DECIMALS,
};
use crate::conditioning::profiles::mean_profile;
use crate::conditioning::{NamedProfile, ProfileSplit};
use crate::data::groups::TargetGroup;
use crate::data::touche::{read_arguments, Split};
use crate::data::DataDir;
use crate::eval::{persona, Method};
use crate::models::LoadedModel;
use crate::train::dataset::{encode_examples, Sample};
use crate::train::TrainSummary;
use crate::vim::profiles::{profile_conditioned_examples, Draws};
use crate::vim::{Rule, TrainingExample, TrainingMethod};
use crate::{Error, Field, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use valuelab_common::ValueDistribution;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimCondJob {
    /// Where the profiles come from and how they are split.
    #[serde(flatten)]
    pub profiles: ProfileSources,
    /// Which VIM examples: `ag`, `qa`, or `vim` (both, in the paper's share).
    #[serde(default = "default_tasks")]
    pub tasks: TrainingMethod,
    #[serde(default = "default_rule")]
    pub rule: Rule,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Training examples drawn, one (profile, argument) pair each.
    #[serde(default = "default_examples")]
    pub examples: usize,
    /// Validation examples drawn over the validation profiles.
    #[serde(default = "default_validation_examples")]
    pub validation_examples: usize,
    /// Seeds the split, the draws, the adapter initialisation, shuffling and dropout.
    #[serde(default)]
    pub seed: u64,
    #[serde(flatten)]
    pub training: LoraTraining,
}

fn default_tasks() -> TrainingMethod {
    TrainingMethod::Vim
}
fn default_rule() -> Rule {
    Rule::Mean
}
fn default_threshold() -> f64 {
    crate::vim::DEFAULT_THRESHOLD
}
fn default_examples() -> usize {
    4000
}
fn default_validation_examples() -> usize {
    64
}

#[derive(Debug, Clone, PartialEq)]
pub struct VimCondOutput {
    pub summary: TrainSummary,
    /// Training profiles, and examples dropped because the persona and prompt did not fit
    /// `max_seq_len` (cutting them would cut the profile).
    pub profiles: usize,
    pub dropped: usize,
}

/// The short prompt of Table 22 for a profile: what `--method vim-cond` puts before each task.
fn short_prompt(profile: &ValueDistribution) -> String {
    persona(
        Method::VimCond,
        &TargetGroup {
            name: String::new(),
            values: *profile,
            size: None,
        },
    )
}

impl VimCondJob {
    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<VimCondOutput> {
        let training = &self.training;
        crate::vim::check_threshold(self.threshold)?;
        if training.max_examples.is_some() {
            return Err(Error::invalid(
                "vim-cond draws `examples` (profile, argument) pairs; max_examples is for one-group training",
            ));
        }
        training.config(self.seed).validate()?;
        let started = Instant::now();
        let data = DataDir::resolve(self.profiles.data_dir.as_deref())?;
        let (split, record) = self.profiles.split(&data, self.seed, sink)?;
        let (train_examples, valid_examples) = self.examples(&data, &split)?;
        let mut model = training.model.load()?;
        let (train_set, dropped_train) = self.fitting(&model, &train_examples)?;
        let (valid_set, dropped_valid) = self.fitting(&model, &valid_examples)?;
        if train_set.is_empty() {
            return Err(Error::input(
                Field::MaxSeqLen,
                format!(
                    "no training example fits {} tokens with its profile prompt: raise max_seq_len (about 400 fits most)",
                    training.max_seq_len
                ),
            ));
        }
        sink.event(&JobEvent::message(format!(
            "vim-cond ({}): {} training examples over {} profiles, {} validation examples over {} profiles ({} dropped as longer than {} tokens); model {} loaded in {:.1} s",
            self.tasks,
            train_set.len(),
            split.train.len(),
            valid_set.len(),
            split.validation.len(),
            dropped_train + dropped_valid,
            training.max_seq_len,
            model.name,
            started.elapsed().as_secs_f64()
        )));
        record.write(&training.out)?;
        let summary =
            training.train(&mut model, &train_set, &valid_set, self.seed, sink, cancel)?;
        if !summary.cancelled {
            provenance::write(
                &summary.adapter_dir,
                &AdapterProvenance {
                    group: ANY_PROFILE.to_string(),
                    values: mean_profile(&split.train).to_vec(),
                    method: PROFILE_IN_PROMPT_METHOD.to_string(),
                    rule: self.rule.to_string(),
                    threshold: self.threshold,
                    seed: self.seed,
                    groups_file: self
                        .profiles
                        .groups_file
                        .clone()
                        .unwrap_or_else(|| data.groups_csv())
                        .display()
                        .to_string(),
                    profile_scores: Some(TWO_DECIMALS.to_string()),
                },
            )?;
        }
        Ok(VimCondOutput {
            summary,
            profiles: split.train.len(),
            dropped: dropped_train + dropped_valid,
        })
    }

    /// The training examples (Touché's train split, the training profiles) and the validation
    /// examples (its valid split, the validation profiles).
    pub fn examples(
        &self,
        data: &DataDir,
        split: &ProfileSplit,
    ) -> Result<(Vec<TrainingExample>, Vec<TrainingExample>)> {
        let draw = |part: Split, profiles: &[NamedProfile], count, seed| {
            let arguments = read_arguments(&data.split_csv(part))?;
            let profiles: Vec<ValueDistribution> = profiles.iter().map(|p| p.values).collect();
            let draws = Draws {
                method: self.tasks,
                rule: self.rule,
                threshold: self.threshold,
                count,
                seed,
            };
            profile_conditioned_examples(&arguments, &profiles, &short_prompt, draws)
        };
        Ok((
            draw(Split::Train, &split.train, self.examples, self.seed)?,
            draw(
                Split::Valid,
                &split.validation,
                self.validation_examples,
                self.seed.wrapping_add(1),
            )?,
        ))
    }

    /// The examples that fit `max_seq_len` whole, and how many did not: left truncation would
    /// cut the profile prompt first.
    fn fitting(
        &self,
        model: &LoadedModel,
        examples: &[TrainingExample],
    ) -> Result<(Vec<Sample>, usize)> {
        let (samples, _) = encode_examples(model, examples, None)?;
        let total = samples.len();
        let kept: Vec<Sample> = samples
            .into_iter()
            .filter(|s| s.ids.len() <= self.training.max_seq_len)
            .collect();
        let dropped = total - kept.len();
        Ok((kept, dropped))
    }
}

#[cfg(test)]
#[path = "vim_cond_tests.rs"]
mod tests;
