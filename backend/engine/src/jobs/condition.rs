//! `valuelab train --method profile-offset|steer|profile-readout`: one profile conditioner for
//! every profile
//! (`conditioning`). Profiles are split first (countries and 20 k-means groups held out,
//! validation groups kept apart); training profiles are the other k-means groups and real ESS
//! respondents' own PVQ-21 profiles; examples come from Touché's train split only.
//!
//! Writes to `out`: `conditioning.json` and `conditioner.safetensors` (what `--method
//! profile-offset|steer|profile-readout --adapter OUT` loads), `split.json` (which profile went where) and
//! `training.json` (budget, validation KL, for steer every (layer, α) tried). A cancelled run
//! saves what it has and is marked cancelled; running it again starts over.

use super::model::ModelRun;
use super::profile_split::ProfileSources;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use crate::conditioning::examples::ExampleSet;
use crate::conditioning::profiles::mean_profile;
use crate::conditioning::readout::StatesPhase;
use crate::conditioning::relevance::RelevanceText;
use crate::conditioning::steer::{
    choose_strength, contrastive_vectors, mean_activations, statements,
};
use crate::conditioning::train_offset::{
    middle_layers, train_profile_offset, OffsetProgress, OffsetTraining, TrainingProfiles,
    ValidationPoint,
};
use crate::conditioning::train_readout::{train_profile_readout, ReadoutTraining};
use crate::conditioning::{ConditionerKind, NamedProfile, ProfileConditioner};
use crate::data::touche::{read_arguments, Split};
use crate::data::DataDir;
use crate::models::LoadedModel;
use crate::output::write_json;
use crate::train::TrainEvent;
use crate::vim::Rule;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

pub const TRAINING_FILE: &str = "training.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionJob {
    pub method: ConditionerKind,
    #[serde(flatten)]
    pub model: ModelRun,
    /// Where the profiles come from and how they are split.
    #[serde(flatten)]
    pub profiles: ProfileSources,
    #[serde(default = "default_rule")]
    pub rule: Rule,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Layers that get offsets (profile-offset) or are tried (steer); default: a quarter, a
    /// half and three quarters of the depth.
    #[serde(default)]
    pub layers: Option<Vec<usize>>,
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Time budget in minutes (profile-offset).
    #[serde(default = "default_minutes")]
    pub minutes: f64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "default_validation_examples")]
    pub validation_examples: usize,
    #[serde(default = "default_validate_every")]
    pub validate_every: usize,
    /// Steer: strengths α tried on validation (0 = the plain model).
    #[serde(default = "default_alphas")]
    pub alphas: Vec<f64>,
    /// Steer: arguments whose activations give the steering vectors.
    #[serde(default = "default_steer_arguments")]
    pub steer_arguments: usize,
    /// Profile-readout: arguments whose answer states are computed (QA and AG each).
    #[serde(default = "default_readout_arguments")]
    pub readout_arguments: usize,
    /// Profile-readout: (profile, item) pairs per step.
    #[serde(default = "default_readout_pairs")]
    pub readout_pairs: usize,
    /// Profile-readout: read each item's value relevance from its text at this layer (a probe
    /// on Touché's value labels) instead of learning a gate on its answer state.
    #[serde(default)]
    pub relevance_layer: Option<usize>,
    /// Profile-readout with a relevance layer: read the item's prompt or its subject alone.
    #[serde(default)]
    pub relevance_text: RelevanceText,
    /// Profile-readout: also fit the level (the profile difference added to every profile's),
    /// so the mean profile answers at the training targets' level.
    #[serde(default)]
    pub fit_level: bool,
    /// Profile-readout with a relevance layer: further Touché training arguments whose texts
    /// only fit the value probe (no answer states).
    #[serde(default)]
    pub probe_arguments: usize,
    #[serde(default)]
    pub seed: u64,
    pub out: PathBuf,
}

fn default_rule() -> Rule {
    Rule::Mean
}
fn default_threshold() -> f64 {
    crate::vim::DEFAULT_THRESHOLD
}
fn default_steps() -> usize {
    2000
}
fn default_minutes() -> f64 {
    60.0
}
fn default_batch() -> usize {
    8
}
fn default_lr() -> f64 {
    0.01
}
fn default_validation_examples() -> usize {
    64
}
fn default_validate_every() -> usize {
    100
}
fn default_alphas() -> Vec<f64> {
    vec![0.0, 1.0, 2.0, 4.0, 8.0, 16.0]
}
fn default_steer_arguments() -> usize {
    400
}
fn default_readout_arguments() -> usize {
    1000
}
fn default_readout_pairs() -> usize {
    256
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionOutput {
    pub dir: PathBuf,
    pub method: ConditionerKind,
    pub cancelled: bool,
    /// Mean validation KL of the plain model and of the result.
    pub validation_before: Option<f64>,
    pub validation_after: Option<f64>,
    pub summary: String,
}

/// Training events for the progress bar and the web app. Conditioner training has one pass
/// (epoch 0); speed and ETA count the steps' own time, not validation's.
struct SinkProgress<'a> {
    sink: &'a dyn ProgressSink,
    cancel: &'a CancelToken,
    tokens: usize,
    seconds: f64,
    budget_s: f64,
    started: Instant,
}

impl OffsetProgress for SinkProgress<'_> {
    fn step(&mut self, step: usize, total: usize, train_kl: f64, tokens: usize, seconds: f64) {
        self.tokens += tokens;
        self.seconds += seconds;
        let per_step = self.seconds / step.max(1) as f64;
        let by_steps = per_step * total.saturating_sub(step) as f64;
        let by_budget = (self.budget_s - self.started.elapsed().as_secs_f64()).max(0.0);
        self.sink.event(&JobEvent::Train {
            event: TrainEvent::Step {
                step,
                total,
                epoch: 0,
                loss: train_kl,
                tokens_per_s: self.tokens as f64 / self.seconds.max(1e-9),
                eta_s: by_steps.min(by_budget),
            },
        });
    }

    fn validated(&mut self, point: &ValidationPoint) {
        self.sink.event(&JobEvent::Train {
            event: TrainEvent::Validation {
                epoch: 0,
                step: point.step,
                loss: point.kl,
            },
        });
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl ConditionJob {
    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<ConditionOutput> {
        let data = DataDir::resolve(self.profiles.data_dir.as_deref())?;
        let (split, record) = self.profiles.split(&data, self.seed, sink)?;
        let arguments = read_arguments(&data.split_csv(Split::Train))?;
        let mut model = self.model.load()?;
        let layers = match &self.layers {
            Some(l) if !l.is_empty() => l.clone(),
            _ => middle_layers(model.llama.config().num_layers),
        };
        let num_layers = model.llama.config().num_layers;
        if let Some(bad) = layers.iter().find(|&&l| l >= num_layers) {
            return Err(Error::invalid(format!(
                "layer {bad} does not exist: model '{}' has layers 0..{}",
                self.model.model,
                num_layers - 1
            )));
        }
        record.write(&self.out)?;
        let mean = mean_profile(&split.train);
        let profiles = |ps: &[NamedProfile]| ps.iter().map(|p| p.values).collect::<Vec<_>>();
        let (train, validation) = (profiles(&split.train), profiles(&split.validation));
        let mut set = ExampleSet::new(&model, arguments, self.rule, self.threshold)?;
        let started = Instant::now();
        let Made {
            mut conditioner,
            details: training,
            cancelled,
            before,
            after,
        } = match self.method {
            ConditionerKind::ProfileOffset => {
                let opts = OffsetTraining {
                    layers,
                    steps: self.steps,
                    minutes: self.minutes,
                    batch_size: self.batch_size.max(1),
                    lr: self.lr,
                    weight_decay: self.weight_decay,
                    seed: self.seed,
                    validation_examples: self.validation_examples,
                    validate_every: self.validate_every,
                };
                sink.event(&JobEvent::Train {
                    event: TrainEvent::Started {
                        total_steps: opts.steps,
                        start_step: 0,
                        epochs: 1,
                        train_examples: opts.steps * opts.batch_size,
                        valid_examples: opts.validation_examples,
                        trainable_params: opts.layers.len() * 10 * model.llama.config().hidden_size,
                    },
                });
                let mut progress = SinkProgress {
                    sink,
                    cancel,
                    tokens: 0,
                    seconds: 0.0,
                    budget_s: opts.minutes * 60.0,
                    started,
                };
                let (c, report) = train_profile_offset(
                    &mut model,
                    &self.model.model,
                    &mut set,
                    TrainingProfiles {
                        train: &train,
                        validation: &validation,
                        mean,
                    },
                    &opts,
                    &mut progress,
                )?;
                Made {
                    conditioner: c,
                    details: serde_json::json!({ "settings": opts, "report": report }),
                    cancelled: report.stopped_by == "cancelled",
                    before: report.validation.first().map(|p| p.kl),
                    after: report.validation.last().map(|p| p.kl),
                }
            }
            ConditionerKind::Steer => {
                self.steer(&mut model, &mut set, &validation, mean, &layers, sink)?
            }
            ConditionerKind::ProfileReadout => {
                let profiles = TrainingProfiles {
                    train: &train,
                    validation: &validation,
                    mean,
                };
                self.readout(&mut model, &mut set, profiles, sink, cancel, started)?
            }
        };
        conditioner.config.training = serde_json::json!({
            "profiles": { "train": train.len(), "validation": validation.len(), "held_out": split.held_out.len() },
            "elapsed_s": started.elapsed().as_secs_f64(),
            "details": training,
        });
        conditioner.save(&self.out)?;
        write_json(&self.out.join(TRAINING_FILE), &conditioner.config.training)?;
        let mut summary = summary_line(
            self.method,
            &conditioner,
            before,
            after,
            started.elapsed().as_secs_f64(),
        );
        if self.method == ConditionerKind::ProfileReadout {
            let report = &training["report"];
            summary.push_str(&format!(
                "; answer states of {} training and {} validation items in {:.0} s, then {} steps of {} pairs; kept step {}",
                report["items"],
                report["validation_items"],
                report["states_s"].as_f64().unwrap_or(0.0),
                report["steps"],
                self.readout_pairs,
                report["kept_step"]
            ));
            if let (Some(layer), Some(hits)) =
                (self.relevance_layer, report["relevance_hits"].as_f64())
            {
                summary.push_str(&format!(
                    "; relevance from layer {layer}'s {} states names a value the argument expresses for {:.0} % of validation items ({:.0} % of training items, out of fold)",
                    self.relevance_text.name(),
                    100.0 * hits,
                    100.0 * report["relevance_train_hits"].as_f64().unwrap_or(f64::NAN)
                ));
                if let Some(more) = report["probe_arguments"].as_u64().filter(|&n| n > 0) {
                    summary.push_str(&format!(
                        ", the probe fit on {more} further arguments' texts too"
                    ));
                }
            }
            if let Some(level) = report["level"].as_array() {
                let points: Vec<String> = level
                    .iter()
                    .map(|v| format!("{:+.2}", v.as_f64().unwrap_or(f64::NAN)))
                    .collect();
                summary.push_str(&format!(
                    "; fitted level (profile points, Achievement … Universalism) {}",
                    points.join(" ")
                ));
            }
        }
        if self.method == ConditionerKind::ProfileOffset {
            let report = &training["report"];
            summary.push_str(&format!(
                "; {} steps of batch {} (budget {} steps or {} min; stopped by {})",
                report["steps"],
                self.batch_size,
                self.steps,
                self.minutes,
                report["stopped_by"].as_str().unwrap_or("?")
            ));
        }
        sink.event(&JobEvent::message(summary.clone()));
        Ok(ConditionOutput {
            dir: self.out.clone(),
            method: self.method,
            cancelled,
            validation_before: before,
            validation_after: after,
            summary,
        })
    }

    /// `profile-readout`: answer states (saved in the output folder), then the maps.
    fn readout(
        &self,
        model: &mut LoadedModel,
        set: &mut ExampleSet,
        profiles: TrainingProfiles,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
        started: Instant,
    ) -> Result<Made> {
        let opts = ReadoutTraining {
            arguments: self.readout_arguments,
            steps: self.steps,
            pairs: self.readout_pairs,
            lr: self.lr,
            weight_decay: self.weight_decay,
            seed: self.seed,
            validation_pairs: self.validation_examples,
            validate_every: self.validate_every,
            relevance_layer: self.relevance_layer,
            relevance_text: self.relevance_text,
            fit_level: self.fit_level,
            probe_arguments: self.probe_arguments,
        };
        sink.event(&JobEvent::message(format!(
            "answer states of {} arguments (QA and AG items)",
            opts.arguments.min(set.arguments.len())
        )));
        let mut progress = SinkProgress {
            sink,
            cancel,
            tokens: 0,
            seconds: 0.0,
            budget_s: f64::INFINITY,
            started,
        };
        let hidden = model.llama.config().hidden_size;
        // Training starts once the last phase (the texts' states with a relevance layer) is
        // complete.
        let last_phase = match (opts.relevance_layer, opts.probe_arguments) {
            (Some(_), 0) => StatesPhase::TextMeans,
            (Some(_), _) => StatesPhase::ProbeTexts,
            (None, _) => StatesPhase::Answers,
        };
        let mut states_progress = |phase: StatesPhase, done: usize, total: usize| {
            if done == total || done.is_multiple_of(64) {
                let what = match (phase, opts.relevance_layer) {
                    (StatesPhase::TextMeans, Some(layer)) => format!(
                        "{} states after layer {layer}: {done} of {total} texts",
                        opts.relevance_text.name()
                    ),
                    (StatesPhase::ProbeTexts, Some(layer)) => format!(
                        "the probe's further {} states after layer {layer}: {done} of {total} texts",
                        opts.relevance_text.name()
                    ),
                    _ => format!("answer states: {done} of {total} items"),
                };
                sink.event(&JobEvent::message(what));
            }
            if done == total && phase == last_phase {
                sink.event(&JobEvent::Train {
                    event: TrainEvent::Started {
                        total_steps: opts.steps,
                        start_step: 0,
                        epochs: 1,
                        train_examples: opts.steps * opts.pairs,
                        valid_examples: opts.validation_pairs,
                        trainable_params: match opts.relevance_layer {
                            Some(_) => hidden,
                            None => (VALUE_COUNT + 1) * hidden,
                        } + if opts.fit_level { VALUE_COUNT } else { 0 },
                    },
                });
            }
        };
        let (c, report) = train_profile_readout(
            model,
            &self.model.model,
            set,
            profiles,
            &opts,
            Some(&self.out),
            &mut progress,
            &mut states_progress,
        )?;
        let best = report.lowest_kl();
        Ok(Made {
            conditioner: c,
            details: serde_json::json!({ "settings": opts, "report": report }),
            cancelled: report.stopped_by == "cancelled",
            before: report.plain_kl,
            after: best,
        })
    }

    fn steer(
        &self,
        model: &mut LoadedModel,
        set: &mut ExampleSet,
        validation: &[ValueDistribution],
        mean: [f64; 10],
        layers: &[usize],
        sink: &dyn ProgressSink,
    ) -> Result<Made> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut chosen = set.arguments.clone();
        chosen.shuffle(&mut rng);
        chosen.truncate(self.steer_arguments.max(2));
        sink.event(&JobEvent::message(format!(
            "steering vectors from {} arguments at layers {layers:?}",
            chosen.len()
        )));
        let activations = mean_activations(model, &statements(&chosen), layers)?;
        let candidates = layers
            .iter()
            .zip(&activations)
            .map(|(&l, a)| Ok((l, contrastive_vectors(a, &chosen)?)))
            .collect::<Result<Vec<_>>>()?;
        let held = set.draw(validation.len(), self.validation_examples, &mut rng);
        sink.event(&JobEvent::message(format!(
            "choosing layer and strength on {} validation examples ({} candidates)",
            held.len(),
            candidates.len() * self.alphas.len()
        )));
        let mut tried = |t: &crate::conditioning::steer::StrengthTrial| {
            sink.event(&JobEvent::message(format!(
                "layer {} α {}: validation KL {:.4}",
                t.layer, t.alpha, t.kl
            )));
        };
        let (conditioner, trials) = choose_strength(
            model,
            &self.model.model,
            set,
            validation,
            &held,
            mean,
            &candidates,
            &self.alphas,
            self.batch_size.max(1),
            &mut tried,
        )?;
        let plain = trials.iter().find(|t| t.alpha == 0.0).map(|t| t.kl);
        let chosen_kl = trials.iter().map(|t| t.kl).reduce(f64::min);
        Ok(Made {
            conditioner,
            details: serde_json::json!({ "arguments": chosen.len(), "trials": trials }),
            cancelled: false,
            before: plain,
            after: chosen_kl,
        })
    }
}

/// A conditioner as its method made it: what to save, how it was made, and the validation KL
/// of the plain model (`before`) and of the result (`after`).
struct Made {
    conditioner: ProfileConditioner,
    details: serde_json::Value,
    cancelled: bool,
    before: Option<f64>,
    after: Option<f64>,
}

fn summary_line(
    method: ConditionerKind,
    c: &ProfileConditioner,
    before: Option<f64>,
    after: Option<f64>,
    seconds: f64,
) -> String {
    let fmt = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.4}"));
    format!(
        "{}: layers {:?}, scale {}; validation KL {} (plain model) -> {} in {seconds:.0} s",
        method.name(),
        c.config.layers,
        c.config.scale,
        fmt(before),
        fmt(after)
    )
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
