//! `profile-readout`: the profile applied where the model reads its answer out. After the final
//! norm, each position's state `h` is shifted along a learned direction `d` by `hᵀ·G·z` (`G`:
//! 10 × hidden, `z` the profile minus the training mean): `G`'s rows are learned probes of how
//! much an item is about each value, weighted by how far the profile's score for that value lies
//! from the mean. So an item about Power moves with the profile's Power and an item about no
//! value barely moves, which a shift of every answer together (what the offsets at middle layers
//! and the steering vectors learned, `docs/results.md`) cannot do. A zero `z` changes nothing:
//! there is no bias term, so the usual answer cannot pass for profile signal.
//!
//! The model is frozen and the shift acts after its last layer, so training needs each item's
//! state once: every item runs through the model once (the slow part, about 0.4 s an item on
//! two cores for SmolLM2-135M), and the maps are then fit on the cached states, thousands of
//! (profile, item) pairs a second. That is why this method trains thousands of steps where
//! `profile-offset`, which back-propagates through the layers, trains tens in the same hour.

use super::conditioner::{ConditionerConfig, ConditionerKind, ProfileConditioner};
use super::examples::{Example, ExampleSet};
use super::targets::QA_OPTIONS;
use super::train_offset::{validation_due, OffsetProgress, TrainingProfiles, ValidationPoint};
use crate::models::{LoadedModel, Mode, ResidualOffsets};
use crate::train::optim::{AdamW, ParamsAdamW};
use crate::vim::Task;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

/// The default learning rate: the maps are small and see thousands of steps.
pub const READOUT_LR: f64 = 0.003;
/// Saved answer states, so that training again with other settings skips the model.
pub const STATES_TENSORS: &str = "answer_states.safetensors";
pub const STATES_TAG: &str = "answer_states.json";
/// Items run through the model in batches of this many.
const STATE_BATCH: usize = 16;
/// A logit that no option gets: pads items with fewer options than the widest.
const ABSENT: f32 = -1.0e4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadoutTraining {
    /// Touché arguments whose answer states are computed, each as a QA and an AG item; a tenth
    /// of them (at least one) only validates.
    pub arguments: usize,
    pub steps: usize,
    /// (profile, item) pairs per step.
    pub pairs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Pairs drawn once over the validation profiles and the validation arguments.
    pub validation_pairs: usize,
    pub validate_every: usize,
}

/// Every item's final-norm state at its answer position, with what the output layer makes of
/// it at the item's options.
pub struct AnswerStates {
    examples: Vec<(usize, Task)>,
    /// (items, hidden).
    hidden: Tensor,
    /// (items, QA_OPTIONS): the plain model's logits of each option, padded with `ABSENT`.
    logits: Tensor,
    /// (items, QA_OPTIONS): each option's column in `columns`; padding points past its end.
    option_columns: Tensor,
    /// (hidden, option tokens): the output layer's weights for every option token.
    columns: Tensor,
    /// Where each QA option's token sits in `columns`, "1".."6" in order.
    qa_columns: Vec<usize>,
}

impl AnswerStates {
    /// Runs the QA and AG items of `arguments` (indices into `set.arguments`) through `model`,
    /// as it is (no offsets), calling `progress(done, total)` after each batch.
    pub fn compute(
        model: &mut LoadedModel,
        set: &mut ExampleSet,
        arguments: &[usize],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        model
            .llama
            .set_residual_offsets(ResidualOffsets::default())?;
        let examples: Vec<(usize, Task)> = arguments
            .iter()
            .flat_map(|&a| [(a, Task::Qa), (a, Task::Ag)])
            .collect();
        let mut tokens: Vec<u32> = Vec::new();
        let mut option_columns: Vec<u32> = Vec::new();
        let mut hidden = Vec::new();
        for (done, chunk) in examples.chunks(STATE_BATCH).enumerate() {
            let items = chunk
                .iter()
                .map(|&(argument, task)| {
                    set.item(
                        model,
                        &Example {
                            profile: 0,
                            argument,
                            task,
                        },
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            hidden.push(super::branch::answer_states(
                model,
                &items,
                Mode::Inference,
            )?);
            for item in &items {
                if item.options.len() > QA_OPTIONS {
                    return Err(Error::invalid(format!(
                        "an item has {} options; a readout handles at most {QA_OPTIONS}",
                        item.options.len()
                    )));
                }
                for k in 0..QA_OPTIONS {
                    option_columns.push(match item.options.get(k) {
                        Some(token) => column_of(&mut tokens, *token),
                        None => u32::MAX,
                    });
                }
            }
            progress(
                (done * STATE_BATCH + chunk.len()).min(examples.len()),
                examples.len(),
            );
        }
        let device = model.device().clone();
        let hidden = Tensor::cat(&hidden, 0)?;
        let columns = output_columns(model, &tokens)?;
        // Padding points at an extra zero column, so it moves no logit.
        let pad = tokens.len() as u32;
        let option_columns: Vec<u32> = option_columns
            .into_iter()
            .map(|c| if c == u32::MAX { pad } else { c })
            .collect();
        let option_columns =
            Tensor::from_vec(option_columns, (examples.len(), QA_OPTIONS), &device)?;
        let all = Tensor::cat(
            &[
                &hidden.matmul(&columns)?,
                &Tensor::full(ABSENT, (examples.len(), 1), &device)?,
            ],
            1,
        )?;
        let logits = gather_columns(&all, &option_columns)?;
        let qa = examples
            .iter()
            .position(|(_, t)| *t == Task::Qa)
            .ok_or_else(|| Error::invalid("a readout needs at least one argument"))?;
        let qa_columns = option_columns
            .get(qa)?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|c| c as usize)
            .collect();
        Ok(Self {
            examples,
            hidden,
            logits,
            option_columns,
            columns,
            qa_columns,
        })
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Writes the states to `dir` (`answer_states.safetensors` and `.json`), tagged with the
    /// model and the arguments they came from.
    pub fn save(&self, dir: &Path, model_name: &str, arguments: &[usize]) -> Result<()> {
        let tensors: HashMap<String, Tensor> = [
            ("hidden", &self.hidden),
            ("logits", &self.logits),
            ("option_columns", &self.option_columns),
            ("columns", &self.columns),
        ]
        .into_iter()
        .map(|(name, t)| (name.to_string(), t.clone()))
        .collect();
        candle_core::safetensors::save(&tensors, dir.join(STATES_TENSORS))?;
        let tag = StatesTag {
            model: model_name.to_string(),
            arguments: arguments.to_vec(),
            qa_columns: self.qa_columns.clone(),
        };
        crate::output::write_json(&dir.join(STATES_TAG), &tag)
    }

    /// The states saved in `dir` for the same model and arguments, if there are any.
    pub fn load(
        dir: &Path,
        model_name: &str,
        arguments: &[usize],
        device: &Device,
    ) -> Result<Option<Self>> {
        let Ok(text) = std::fs::read_to_string(dir.join(STATES_TAG)) else {
            return Ok(None);
        };
        let tag: StatesTag = match serde_json::from_str(&text) {
            Ok(tag) => tag,
            Err(_) => return Ok(None),
        };
        if tag.model != model_name || tag.arguments != arguments {
            return Ok(None);
        }
        let Ok(mut tensors) = candle_core::safetensors::load(dir.join(STATES_TENSORS), device)
        else {
            return Ok(None);
        };
        let mut take = |name: &str| {
            tensors
                .remove(name)
                .ok_or_else(|| Error::invalid(format!("{STATES_TENSORS} has no tensor {name}")))
        };
        Ok(Some(Self {
            examples: arguments
                .iter()
                .flat_map(|&a| [(a, Task::Qa), (a, Task::Ag)])
                .collect(),
            hidden: take("hidden")?,
            logits: take("logits")?,
            option_columns: take("option_columns")?,
            columns: take("columns")?,
            qa_columns: tag.qa_columns,
        }))
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// A unit direction that raises the QA answer: the output columns of "1".."6" weighted by
    /// how far each lies above the middle of the scale. It starts the direction, since a zero
    /// gate and a zero direction would both get zero gradients.
    fn answer_scale_direction(&self) -> Result<Tensor> {
        let middle = (QA_OPTIONS as f64 + 1.0) / 2.0;
        let mut direction: Option<Tensor> = None;
        for (k, &column) in self.qa_columns.iter().enumerate() {
            let weighted = (self.columns.narrow(1, column, 1)? * (k as f64 + 1.0 - middle))?;
            direction = Some(match direction {
                Some(d) => (d + weighted)?,
                None => weighted,
            });
        }
        let direction = direction
            .ok_or_else(|| Error::invalid("no QA options"))?
            .t()?;
        let norm = direction.sqr()?.sum_all()?.sqrt()?;
        Ok(direction.broadcast_div(&norm)?)
    }

    /// Mean KL(target ‖ readout) over `pairs` of (profile row of `z`, item), each item's options
    /// shifted by `(h·G·z)` times the direction's output.
    fn loss(
        &self,
        gate_map: &Tensor,
        direction: &Tensor,
        z: &Tensor,
        items: &Tensor,
        targets: &Tensor,
    ) -> Result<Tensor> {
        let h = self.hidden.index_select(items, 0)?;
        let amount = (h * z.matmul(gate_map)?)?.sum_keepdim(1)?;
        let device = direction.device();
        let by_column = Tensor::cat(
            &[
                &direction.matmul(&self.columns)?,
                &Tensor::zeros((1, 1), DType::F32, device)?,
            ],
            1,
        )?;
        let columns = self.option_columns.index_select(items, 0)?;
        let moved = gather_columns(&by_column, &columns)?;
        let logits = (self.logits.index_select(items, 0)? + amount.broadcast_mul(&moved)?)?;
        let log_p = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let safe_t = targets.clamp(1e-12, 1.0)?;
        let per_pair = (targets * (safe_t.log()? - log_p)?)?.sum(1)?;
        Ok(per_pair.mean_all()?)
    }
}

/// What saved answer states were computed from.
#[derive(Debug, Serialize, Deserialize)]
struct StatesTag {
    model: String,
    arguments: Vec<usize>,
    qa_columns: Vec<usize>,
}

/// Where `token` sits in `tokens`, appended the first time.
fn column_of(tokens: &mut Vec<u32>, token: u32) -> u32 {
    match tokens.iter().position(|&t| t == token) {
        Some(i) => i as u32,
        None => {
            tokens.push(token);
            tokens.len() as u32 - 1
        }
    }
}

/// The output layer's weights for `tokens`, (hidden, tokens), read by running unit vectors
/// through it: the layer may be quantised, and this works for any weight format. The output
/// layer of a Llama has no bias, so a unit vector's logits are its weights.
fn output_columns(model: &LoadedModel, tokens: &[u32]) -> Result<Tensor> {
    let hidden = model.llama.config().hidden_size;
    let device = model.device();
    let index = Tensor::new(tokens, device)?;
    let eye = Tensor::eye(hidden, DType::F32, device)?;
    let mut parts = Vec::new();
    for start in (0..hidden).step_by(64) {
        let rows = eye.narrow(0, start, 64.min(hidden - start))?;
        parts.push(model.llama.logits(&rows)?.index_select(&index, 1)?);
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// `values` (1, columns) picked per row of `columns` (rows, k): (rows, k).
fn gather_columns(values: &Tensor, columns: &Tensor) -> Result<Tensor> {
    let (rows, k) = columns.dims2()?;
    if values.dim(0)? == 1 {
        let flat = values
            .squeeze(0)?
            .index_select(&columns.flatten_all()?, 0)?;
        return Ok(flat.reshape((rows, k))?);
    }
    Ok(values.gather(columns, 1)?)
}

/// The variable's values now, in storage of their own. `detach` would share the variable's
/// storage, which the optimizer overwrites in place, so a kept step would follow every later one.
fn snapshot(var: &Var) -> Result<Tensor> {
    Ok(var.as_tensor().copy()?.detach())
}

/// (profile, item) pairs with their targets, ready for [`AnswerStates::loss`].
struct Pairs {
    z: Tensor,
    items: Tensor,
    targets: Tensor,
}

fn pairs(
    set: &ExampleSet,
    states: &AnswerStates,
    profiles: &[ValueDistribution],
    mean: &[f64; VALUE_COUNT],
    chosen: &[(usize, usize)],
    device: &Device,
) -> Result<Pairs> {
    let mut z = Vec::with_capacity(chosen.len() * VALUE_COUNT);
    let mut items = Vec::with_capacity(chosen.len());
    let mut targets = Vec::with_capacity(chosen.len() * QA_OPTIONS);
    for &(profile, item) in chosen {
        let (argument, task) = states.examples[item];
        let scores = profiles[profile].scores();
        z.extend(scores.iter().zip(mean).map(|(s, m)| (s - m) as f32));
        items.push(item as u32);
        let target = set.target(
            &Example {
                profile,
                argument,
                task,
            },
            &profiles[profile],
        )?;
        targets.extend((0..QA_OPTIONS).map(|k| target.get(k).copied().unwrap_or(0.0) as f32));
    }
    let n = chosen.len();
    Ok(Pairs {
        z: Tensor::from_vec(z, (n, VALUE_COUNT), device)?,
        items: Tensor::from_vec(items, n, device)?,
        targets: Tensor::from_vec(targets, (n, QA_OPTIONS), device)?,
    })
}

fn draw(profiles: usize, items: &[usize], count: usize, rng: &mut impl Rng) -> Vec<(usize, usize)> {
    (0..count)
        .map(|_| {
            (
                rng.random_range(0..profiles),
                items[rng.random_range(0..items.len())],
            )
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadoutReport {
    pub items: usize,
    pub validation_items: usize,
    pub states_s: f64,
    pub steps: usize,
    pub elapsed_s: f64,
    pub stopped_by: String,
    pub last_train_kl: Option<f64>,
    /// Mean validation KL, step 0 being the plain model.
    pub validation: Vec<ValidationPoint>,
    /// The step whose maps were kept: the lowest validation KL.
    pub kept_step: usize,
}

/// Trains `profile-readout` on the answer states of `opts.arguments` arguments of `set`; with
/// `states_dir`, reuses the states saved there for the same model and arguments, or saves them.
#[allow(clippy::too_many_arguments)]
pub fn train_profile_readout(
    model: &mut LoadedModel,
    model_name: &str,
    set: &mut ExampleSet,
    profiles: TrainingProfiles,
    opts: &ReadoutTraining,
    states_dir: Option<&Path>,
    progress: &mut dyn OffsetProgress,
    states_progress: &mut dyn FnMut(usize, usize),
) -> Result<(ProfileConditioner, ReadoutReport)> {
    let TrainingProfiles {
        train,
        validation,
        mean,
    } = profiles;
    if train.is_empty() {
        return Err(Error::invalid("profile-readout needs training profiles"));
    }
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut chosen: Vec<usize> = (0..set.arguments.len()).collect();
    chosen.shuffle(&mut rng);
    chosen.truncate(opts.arguments.max(2));
    let saved = match states_dir {
        Some(dir) => AnswerStates::load(dir, model_name, &chosen, model.device())?,
        None => None,
    };
    let states = match saved {
        Some(states) => {
            states_progress(states.len(), states.len());
            states
        }
        None => {
            let states = AnswerStates::compute(model, set, &chosen, states_progress)?;
            if let Some(dir) = states_dir {
                states.save(dir, model_name, &chosen)?;
            }
            states
        }
    };
    let states_s = started.elapsed().as_secs_f64();
    // Items 2a and 2a+1 are one argument's; the last tenth of the arguments only validates.
    let held_arguments = (chosen.len() / 10).max(1);
    let split = 2 * (chosen.len() - held_arguments);
    let (train_items, validation_items): (Vec<usize>, Vec<usize>) =
        ((0..split).collect(), (split..states.len()).collect());

    let device = model.device().clone();
    let hidden = model.llama.config().hidden_size;
    let gate_map = Var::zeros((VALUE_COUNT, hidden), DType::F32, &device)?;
    let direction = Var::from_tensor(&states.answer_scale_direction()?)?;
    let mut optimizer = AdamW::new(
        vec![
            ("readout.gate".into(), gate_map.clone()),
            ("readout.direction".into(), direction.clone()),
        ],
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let (check_profiles, check_items) = if validation.is_empty() {
        (train, &train_items)
    } else {
        (validation, &validation_items)
    };
    let held = draw(
        check_profiles.len(),
        check_items,
        opts.validation_pairs.max(1),
        &mut rng,
    );
    let held = pairs(set, &states, check_profiles, &mean, &held, &device)?;
    let validate = |gate: &Tensor, direction: &Tensor| -> Result<f64> {
        let loss = states.loss(gate, direction, &held.z, &held.items, &held.targets)?;
        Ok(f64::from(loss.to_scalar::<f32>()?))
    };
    let mut report = ReadoutReport {
        items: train_items.len(),
        validation_items: validation_items.len(),
        states_s,
        steps: 0,
        elapsed_s: 0.0,
        stopped_by: "steps".into(),
        last_train_kl: None,
        validation: Vec::new(),
        kept_step: 0,
    };
    let mut best = (f64::INFINITY, snapshot(&gate_map)?, snapshot(&direction)?);
    loop {
        let stop = if report.steps >= opts.steps {
            Some("steps")
        } else if progress.cancelled() {
            Some("cancelled")
        } else {
            None
        };
        let due = validation_due(
            report.steps,
            opts.validate_every,
            stop.is_some(),
            report.validation.last().map(|p| p.step),
        );
        if due {
            let kl = validate(gate_map.as_tensor(), direction.as_tensor())?;
            let point = ValidationPoint {
                step: report.steps,
                kl,
            };
            progress.validated(&point);
            report.validation.push(point);
            if kl < best.0 {
                best = (kl, snapshot(&gate_map)?, snapshot(&direction)?);
                report.kept_step = report.steps;
            }
        }
        if let Some(reason) = stop {
            report.stopped_by = reason.into();
            break;
        }
        let step_started = Instant::now();
        let batch = draw(train.len(), &train_items, opts.pairs.max(1), &mut rng);
        let batch = pairs(set, &states, train, &mean, &batch, &device)?;
        let loss = states.loss(
            gate_map.as_tensor(),
            direction.as_tensor(),
            &batch.z,
            &batch.items,
            &batch.targets,
        )?;
        let grads = loss.backward()?;
        optimizer.step(&[
            grads.get(gate_map.as_tensor()).cloned(),
            grads.get(direction.as_tensor()).cloned(),
        ])?;
        report.steps += 1;
        let kl = f64::from(loss.to_scalar::<f32>()?);
        report.last_train_kl = Some(kl);
        progress.step(
            report.steps,
            opts.steps,
            kl,
            0,
            step_started.elapsed().as_secs_f64(),
        );
    }
    report.elapsed_s = started.elapsed().as_secs_f64();
    let config = ConditionerConfig {
        method: ConditionerKind::ProfileReadout,
        model: model_name.to_string(),
        hidden_size: hidden,
        layers: Vec::new(),
        mean,
        scale: 1.0,
        training: serde_json::Value::Null,
    };
    let conditioner = ProfileConditioner::new(config, Vec::new())?.with_readout(best.1, best.2)?;
    Ok((conditioner, report))
}

#[cfg(test)]
#[path = "readout_tests.rs"]
mod tests;
