//! `profile-readout` training on cached answer states ([`AnswerStates`]): AdamW on the mean KL
//! between each (training profile, item) pair's shifted option distribution and its target,
//! the step with the lowest validation KL kept. The shift is a gate learned on the answer state,
//! or with a relevance layer each item's value relevance read from its prompt or its subject
//! (`relevance`);
//! see the method's description in `readout`.

use super::conditioner::{centred, ConditionerConfig, ProfileConditioner};
use super::examples::{Example, ExampleSet};
use super::probe_texts::{probe_texts, ProbeTexts};
use super::readout::{AnswerStates, StatesPhase};
use super::relevance::{out_of_fold, value_labels, ProbeTraining, RelevanceText, ValueProbe};
use super::targets::QA_OPTIONS;
use super::train_offset::{validation_due, OffsetProgress, TrainingProfiles, ValidationPoint};
use crate::models::LoadedModel;
use crate::train::optim::{AdamW, ParamsAdamW};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

/// The default learning rate: the maps are small and see thousands of steps.
pub const READOUT_LR: f64 = 0.003;

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
    /// Read each item's value relevance from its text at this layer instead of learning a
    /// gate on its answer state.
    #[serde(default)]
    pub relevance_layer: Option<usize>,
    /// With a relevance layer: which text of an item the probe reads.
    #[serde(default)]
    pub relevance_text: RelevanceText,
    /// Also fit the readout's level: one profile difference added to every profile's, so the
    /// mean profile answers at the training targets' level rather than the plain model's.
    #[serde(default)]
    pub fit_level: bool,
    /// With a relevance layer: further Touché training arguments, beyond `arguments`, whose
    /// texts the value probe is also fit on; only those texts run through the model
    /// ([`super::probe_texts`]).
    #[serde(default)]
    pub probe_arguments: usize,
}

/// Folds of the training arguments for their out-of-fold relevance.
const RELEVANCE_FOLDS: usize = 5;

/// The variable's values now, in storage of their own. `detach` would share the variable's
/// storage, which the optimizer overwrites in place, so a kept step would follow every later one.
pub(super) fn snapshot(var: &Var) -> Result<Tensor> {
    Ok(var.as_tensor().copy()?.detach())
}

/// (profile, item) pairs with their targets, ready for [`AnswerStates::loss`].
pub(super) struct Pairs {
    pub(super) z: Tensor,
    pub(super) items: Tensor,
    pub(super) targets: Tensor,
}

pub(super) fn pairs(
    set: &ExampleSet,
    states: &AnswerStates,
    profiles: &[ValueDistribution],
    mean: &[f64; VALUE_COUNT],
    chosen: &[(usize, usize)],
    device: &Device,
) -> Result<Pairs> {
    let mut rows = Vec::with_capacity(chosen.len());
    let mut items = Vec::with_capacity(chosen.len());
    let mut targets = Vec::with_capacity(chosen.len() * QA_OPTIONS);
    for &(profile, item) in chosen {
        let (argument, task) = states.examples[item];
        rows.push(*profiles[profile].scores());
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
        z: centred(&rows, mean, device)?,
        items: Tensor::from_vec(items, n, device)?,
        targets: Tensor::from_vec(targets, (n, QA_OPTIONS), device)?,
    })
}

pub(super) fn draw(
    profiles: usize,
    items: &[usize],
    count: usize,
    rng: &mut impl Rng,
) -> Vec<(usize, usize)> {
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
    /// Mean validation KL, step 0 being the maps before training: the plain model for a learned
    /// gate (it starts at zero), not for a relevance readout, whose items already move along
    /// the starting direction.
    pub validation: Vec<ValidationPoint>,
    /// The plain model's mean KL on the same validation pairs (no shift at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_kl: Option<f64>,
    /// The step whose maps were kept: the lowest validation KL.
    pub kept_step: usize,
    /// With a relevance layer: the share of validation items whose most relevant value is one
    /// their argument expresses (out-of-fold for the training items in `relevance_train_hits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevance_hits: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevance_train_hits: Option<f64>,
    /// Arguments beyond the readout's own whose texts the probe was also fit on.
    #[serde(default)]
    pub probe_arguments: usize,
    /// With `fit_level`: the kept level, one number per value in profile points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Vec<f32>>,
}

impl ReadoutReport {
    /// The lowest validation KL: the kept step's.
    pub fn lowest_kl(&self) -> Option<f64> {
        self.validation.iter().map(|p| p.kl).reduce(f64::min)
    }
}

/// What moves an item: a gate learned on its answer state, or its relevance from its prompt.
enum Gate {
    Learned(Var),
    /// The final probe and each item's relevance (items, 10).
    Relevance(ValueProbe, Tensor),
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
    states_progress: &mut dyn FnMut(StatesPhase, usize, usize),
) -> Result<(ProfileConditioner, ReadoutReport)> {
    let TrainingProfiles {
        train,
        validation,
        mean,
    } = profiles;
    if train.is_empty() {
        return Err(Error::invalid("profile-readout needs training profiles"));
    }
    let num_layers = model.llama.config().num_layers;
    if let Some(layer) = opts.relevance_layer.filter(|&l| l >= num_layers) {
        return Err(Error::invalid(format!(
            "relevance layer {layer} does not exist: model '{model_name}' has layers 0..{}",
            num_layers - 1
        )));
    }
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut chosen: Vec<usize> = (0..set.arguments.len()).collect();
    chosen.shuffle(&mut rng);
    let readout_arguments = opts.arguments.max(2).min(chosen.len());
    let probe_only = probe_only_arguments(&chosen, readout_arguments, opts)?;
    chosen.truncate(readout_arguments);
    let saved = match states_dir {
        Some(dir) => AnswerStates::load(dir, model_name, &chosen, model.device())?,
        None => None,
    };
    let mut states = match saved {
        Some(states) => {
            states_progress(StatesPhase::Answers, states.len(), states.len());
            states
        }
        None => {
            let states = AnswerStates::compute(model, set, &chosen, &mut |done, total| {
                states_progress(StatesPhase::Answers, done, total)
            })?;
            if let Some(dir) = states_dir {
                states.save(dir, model_name, &chosen)?;
            }
            states
        }
    };
    if let Some(layer) = opts.relevance_layer {
        let computed = states.ensure_means(
            model,
            set,
            layer,
            opts.relevance_text,
            &mut |done, total| states_progress(StatesPhase::TextMeans, done, total),
        )?;
        match (computed, states_dir) {
            (true, Some(dir)) => states.save(dir, model_name, &chosen)?,
            (true, None) => {}
            (false, _) => states_progress(StatesPhase::TextMeans, states.len(), states.len()),
        }
    }
    let probe_extra = match opts.relevance_layer.filter(|_| !probe_only.is_empty()) {
        Some(layer) => Some(probe_texts(
            model,
            model_name,
            set,
            &probe_only,
            (opts.relevance_text, layer),
            states_dir,
            &mut |done, total| states_progress(StatesPhase::ProbeTexts, done, total),
        )?),
        None => None,
    };
    let states_s = started.elapsed().as_secs_f64();
    // Items 2a and 2a+1 are one argument's; the last tenth of the arguments only validates.
    let held_arguments = (chosen.len() / 10).max(1);
    let split = 2 * (chosen.len() - held_arguments);
    let (train_items, validation_items): (Vec<usize>, Vec<usize>) =
        ((0..split).collect(), (split..states.len()).collect());

    let device = model.device().clone();
    let hidden = model.llama.config().hidden_size;
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
        relevance_hits: None,
        relevance_train_hits: None,
        probe_arguments: probe_only.len(),
        level: None,
        plain_kl: None,
    };
    let gate = match opts.relevance_layer {
        Some(layer) => {
            let read = (opts.relevance_text, layer);
            let (probe, relevance) =
                item_relevance(set, &states, probe_extra.as_ref(), read, split, &mut report)?;
            Gate::Relevance(probe, relevance)
        }
        None => Gate::Learned(Var::zeros((VALUE_COUNT, hidden), DType::F32, &device)?),
    };
    let direction = Var::from_tensor(&states.answer_scale_direction()?)?;
    let mut params = vec![("readout.direction".to_string(), direction.clone())];
    if let Gate::Learned(gate_map) = &gate {
        params.push(("readout.gate".into(), gate_map.clone()));
    }
    let level = Var::zeros((1, VALUE_COUNT), DType::F32, &device)?;
    if opts.fit_level {
        params.push(("readout.level".into(), level.clone()));
    }
    let vars: Vec<Var> = params.iter().map(|(_, v)| v.clone()).collect();
    let mut optimizer = AdamW::new(
        params,
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let amount = |pairs: &Pairs| -> Result<Tensor> {
        // Without `fit_level` the level stays zero: it is not among the optimised variables.
        let z = pairs.z.broadcast_add(level.as_tensor())?;
        match &gate {
            Gate::Learned(gate_map) => states.gate_amount(gate_map.as_tensor(), &z, &pairs.items),
            Gate::Relevance(_, relevance) => relevance_amount(relevance, &z, &pairs.items),
        }
    };
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
    let validate = || -> Result<f64> {
        let loss = states.loss(
            &amount(&held)?,
            direction.as_tensor(),
            &held.items,
            &held.targets,
        )?;
        Ok(f64::from(loss.to_scalar::<f32>()?))
    };
    let unmoved = Tensor::zeros((held.items.dim(0)?, 1), DType::F32, &device)?;
    let plain = states.loss(&unmoved, direction.as_tensor(), &held.items, &held.targets)?;
    report.plain_kl = Some(f64::from(plain.to_scalar::<f32>()?));
    let snapshots = || vars.iter().map(snapshot).collect::<Result<Vec<_>>>();
    let mut best = (f64::INFINITY, snapshots()?);
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
            let kl = validate()?;
            let point = ValidationPoint {
                step: report.steps,
                kl,
            };
            progress.validated(&point);
            report.validation.push(point);
            if kl < best.0 {
                best = (kl, snapshots()?);
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
            &amount(&batch)?,
            direction.as_tensor(),
            &batch.items,
            &batch.targets,
        )?;
        let grads = loss.backward()?;
        optimizer.step(
            &vars
                .iter()
                .map(|v| grads.get(v.as_tensor()).cloned())
                .collect::<Vec<_>>(),
        )?;
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
    let config = ConditionerConfig::profile_readout(model_name, hidden, mean);
    let conditioner = ProfileConditioner::new(config, Vec::new())?;
    let mut kept = best.1.into_iter();
    let mut next = || {
        kept.next()
            .ok_or_else(|| Error::invalid("a kept map went missing"))
    };
    let kept_direction = next()?;
    let conditioner = match gate {
        Gate::Relevance(probe, _) => {
            conditioner.with_relevance(probe, opts.relevance_text, kept_direction)?
        }
        Gate::Learned(_) => conditioner.with_readout(next()?, kept_direction)?,
    };
    let conditioner = match opts.fit_level {
        true => conditioner.with_level(next()?)?,
        false => conditioner,
    };
    report.level = conditioner.level_values()?;
    Ok((conditioner, report))
}

/// Each pair's amount `r·z` (pairs, 1), `r` its item's row of `relevance` (items, 10): what
/// `ProfileConditioner::item_offsets` shifts the item by when answering.
pub(super) fn relevance_amount(relevance: &Tensor, z: &Tensor, items: &Tensor) -> Result<Tensor> {
    Ok((relevance.index_select(items, 0)? * z)?.sum_keepdim(1)?)
}

/// The arguments whose texts only fit the probe: the `opts.probe_arguments` that follow the
/// readout's own in the shuffled order, so never a validation argument.
fn probe_only_arguments(
    shuffled: &[usize],
    readout_arguments: usize,
    opts: &ReadoutTraining,
) -> Result<Vec<usize>> {
    if opts.probe_arguments == 0 {
        return Ok(Vec::new());
    }
    if opts.relevance_layer.is_none() {
        return Err(Error::invalid(
            "probe arguments fit the value probe of a relevance readout: give a relevance layer (22 suits the embedded model) or no probe arguments",
        ));
    }
    let left = shuffled.len() - readout_arguments;
    if opts.probe_arguments > left {
        return Err(Error::invalid(format!(
            "{} probe arguments asked for, but the training split has {left} beyond the readout's {readout_arguments}: give at most {left}",
            opts.probe_arguments
        )));
    }
    Ok(shuffled[readout_arguments..readout_arguments + opts.probe_arguments].to_vec())
}

/// The value probe fit on the training items' texts (`..split`) that `read` names (which text,
/// which layer), and on `extra` texts when given, and every item's relevance: out-of-fold for
/// the training items, the final probe's for the validation items.
fn item_relevance(
    set: &ExampleSet,
    states: &AnswerStates,
    extra: Option<&ProbeTexts>,
    read: (RelevanceText, usize),
    split: usize,
    report: &mut ReadoutReport,
) -> Result<(ValueProbe, Tensor)> {
    let layer = read.1;
    let means = states
        .means
        .get(&read)
        .ok_or_else(|| Error::invalid("the items' averaged states went missing"))?;
    let arguments: Vec<_> = states
        .examples
        .iter()
        .map(|&(a, _)| &set.arguments[a])
        .collect();
    let labels = value_labels(&arguments, means.device())?;
    let opts = ProbeTraining::default();
    let (mut fit_means, mut fit_labels) = (means.narrow(0, 0, split)?, labels.narrow(0, 0, split)?);
    // Rows of one argument share a fold: items 2a and 2a+1, and an extra argument's rows.
    let mut groups: Vec<usize> = (0..split).map(|item| item / 2).collect();
    if let Some(extra) = extra {
        let arguments: Vec<_> = extra.arguments.iter().map(|&a| &set.arguments[a]).collect();
        let extra_labels = value_labels(&arguments, means.device())?;
        fit_means = Tensor::cat(&[&fit_means, &extra.means], 0)?;
        fit_labels = Tensor::cat(&[&fit_labels, &extra_labels], 0)?;
        groups.extend(extra.arguments.iter().map(|&a| split + a));
    }
    let train = out_of_fold(
        layer,
        &fit_means,
        &fit_labels,
        &groups,
        RELEVANCE_FOLDS,
        &opts,
    )?
    .narrow(0, 0, split)?;
    let train_labels = labels.narrow(0, 0, split)?;
    let probe = ValueProbe::fit(layer, &fit_means, &fit_labels, &opts)?;
    let rest = states.len() - split;
    let validation = probe.relevance_of(&means.narrow(0, split, rest)?)?;
    report.relevance_train_hits = Some(hits(&train, &train_labels)?);
    if rest > 0 {
        report.relevance_hits = Some(hits(&validation, &labels.narrow(0, split, rest)?)?);
    }
    Ok((probe, Tensor::cat(&[&train, &validation], 0)?))
}

/// The share of rows whose most relevant value has a label.
fn hits(relevance: &Tensor, labels: &Tensor) -> Result<f64> {
    let top = relevance.argmax_keepdim(1)?;
    let labelled = labels.gather(&top, 1)?.gt(0.0)?.to_dtype(DType::F32)?;
    Ok(f64::from(labelled.mean_all()?.to_scalar::<f32>()?))
}
