//! `profile-offset` training: the maps `W_l` (10 × hidden per layer, zero at the start, so
//! training starts from the plain model) learned by AdamW on the mean KL between the model's
//! option distribution and each example's target, the model frozen. Each step draws a batch of
//! (training profile, argument, task) examples; validation profiles are scored on a fixed set
//! of examples before training and every `validate_every` steps. Training stops at `steps`, at
//! the time budget, or when cancelled; the maps are saved whichever stops it.

use super::conditioner::{ConditionerConfig, ConditionerKind, ProfileConditioner};
use super::examples::ExampleSet;
use crate::models::{LoadedModel, Mode};
use crate::train::optim::{AdamW, ParamsAdamW};
use crate::Result;
use candle_core::{DType, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffsetTraining {
    pub layers: Vec<usize>,
    pub steps: usize,
    /// Wall-clock budget; training stops at the first step past it.
    pub minutes: f64,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Examples drawn once over the validation profiles.
    pub validation_examples: usize,
    pub validate_every: usize,
}

/// Middle layers of a model with `num_layers` blocks: at a third, a half and two thirds.
pub fn middle_layers(num_layers: usize) -> Vec<usize> {
    let mut layers: Vec<usize> = [1, 2, 3]
        .iter()
        .map(|k| (num_layers * k / 4).min(num_layers.saturating_sub(1)))
        .collect();
    layers.dedup();
    layers
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationPoint {
    pub step: usize,
    pub kl: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffsetReport {
    pub steps: usize,
    pub elapsed_s: f64,
    /// "steps", "time" or "cancelled".
    pub stopped_by: String,
    pub last_train_kl: Option<f64>,
    /// Mean validation KL, step 0 being the plain model.
    pub validation: Vec<ValidationPoint>,
}

/// Called after every step and at every validation.
pub trait OffsetProgress {
    /// After a step of `seconds` that ran `tokens` tokens.
    fn step(&mut self, step: usize, total: usize, train_kl: f64, tokens: usize, seconds: f64);
    fn validated(&mut self, point: &ValidationPoint);
    fn cancelled(&self) -> bool;
}

/// Whether a validation is due at `step`: at the start, every `validate_every` steps, and when
/// training stops, once per step (`last` is the step of the last validation).
pub(super) fn validation_due(
    step: usize,
    validate_every: usize,
    stopping: bool,
    last: Option<usize>,
) -> bool {
    let due = step == 0 || (validate_every > 0 && step.is_multiple_of(validate_every)) || stopping;
    due && last != Some(step)
}

/// The profiles a conditioner learns from and is watched on, and the mean it centres on.
pub struct TrainingProfiles<'a> {
    pub train: &'a [ValueDistribution],
    pub validation: &'a [ValueDistribution],
    pub mean: [f64; VALUE_COUNT],
}

pub fn train_profile_offset(
    model: &mut LoadedModel,
    model_name: &str,
    set: &mut ExampleSet,
    profiles: TrainingProfiles,
    opts: &OffsetTraining,
    progress: &mut dyn OffsetProgress,
) -> Result<(ProfileConditioner, OffsetReport)> {
    let TrainingProfiles {
        train,
        validation,
        mean,
    } = profiles;
    let hidden = model.llama.config().hidden_size;
    let device = model.device().clone();
    let vars = opts
        .layers
        .iter()
        .map(|_| Var::zeros((VALUE_COUNT, hidden), DType::F32, &device))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let config = ConditionerConfig {
        method: ConditionerKind::ProfileOffset,
        model: model_name.to_string(),
        hidden_size: hidden,
        layers: opts.layers.clone(),
        mean,
        scale: 1.0,
        training: serde_json::Value::Null,
        relevance_layer: None,
        relevance_text: Default::default(),
    };
    let conditioner = |vars: &[Var]| {
        ProfileConditioner::new(
            config.clone(),
            vars.iter().map(|v| v.as_tensor().clone()).collect(),
        )
    };
    let mut optimizer = AdamW::new(
        opts.layers
            .iter()
            .zip(&vars)
            .map(|(l, v)| (format!("layers.{l}"), v.clone()))
            .collect(),
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let held = set.draw(validation.len(), opts.validation_examples, &mut rng);
    let mut report = OffsetReport {
        steps: 0,
        elapsed_s: 0.0,
        stopped_by: "steps".into(),
        last_train_kl: None,
        validation: Vec::new(),
    };
    let started = Instant::now();
    loop {
        let stop = if report.steps >= opts.steps {
            Some("steps")
        } else if progress.cancelled() {
            Some("cancelled")
        } else if started.elapsed().as_secs_f64() > opts.minutes * 60.0 {
            Some("time")
        } else {
            None
        };
        let due = validation_due(
            report.steps,
            opts.validate_every,
            stop.is_some(),
            report.validation.last().map(|p| p.step),
        );
        if due && !validation.is_empty() && !held.is_empty() {
            let kl = set.mean_kl(
                model,
                Some(&conditioner(&vars)?),
                validation,
                &held,
                opts.batch_size,
            )?;
            let point = ValidationPoint {
                step: report.steps,
                kl,
            };
            progress.validated(&point);
            report.validation.push(point);
        }
        if let Some(reason) = stop {
            report.stopped_by = reason.into();
            break;
        }
        let step_started = Instant::now();
        let batch = set.draw(train.len(), opts.batch_size, &mut rng);
        let (loss, tokens) = set.batch_loss(
            model,
            Some(&conditioner(&vars)?),
            train,
            &batch,
            Mode::Training,
        )?;
        let grads = loss.backward()?;
        let per_var: Vec<_> = vars
            .iter()
            .map(|v| grads.get(v.as_tensor()).cloned())
            .collect();
        optimizer.step(&per_var)?;
        report.steps += 1;
        let kl = f64::from(loss.to_scalar::<f32>()?);
        report.last_train_kl = Some(kl);
        progress.step(
            report.steps,
            opts.steps,
            kl,
            tokens,
            step_started.elapsed().as_secs_f64(),
        );
    }
    report.elapsed_s = started.elapsed().as_secs_f64();
    let maps = vars.iter().map(|v| v.as_tensor().detach()).collect();
    Ok((ProfileConditioner::new(config, maps)?, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditioning::testing::{argument, Quiet};
    use crate::models::testing::tiny_model;
    use crate::vim::Rule;

    #[test]
    fn training_lowers_the_kl_on_the_profiles_it_learns_from() {
        let mut model = tiny_model(true, 3).unwrap();
        let arguments = (0..4).map(|i| argument(i, i * 3)).collect();
        let mut set = ExampleSet::new(&model, arguments, Rule::Mean, 3.0).unwrap();
        let profiles: Vec<ValueDistribution> = [1.5, 5.5, 2.0, 5.0]
            .iter()
            .enumerate()
            .map(|(i, &level)| {
                let mut scores = [level; VALUE_COUNT];
                scores[i] = 7.0 - level;
                ValueDistribution::parse(scores).unwrap()
            })
            .collect();
        let opts = OffsetTraining {
            layers: middle_layers(model.llama.config().num_layers),
            steps: 60,
            minutes: 5.0,
            batch_size: 4,
            lr: 0.05,
            weight_decay: 0.0,
            seed: 2,
            validation_examples: 16,
            validate_every: 0,
        };
        let (conditioner, report) = train_profile_offset(
            &mut model,
            "tiny",
            &mut set,
            TrainingProfiles {
                train: &profiles,
                validation: &profiles,
                mean: [3.5; VALUE_COUNT],
            },
            &opts,
            &mut Quiet,
        )
        .unwrap();
        assert_eq!(report.steps, 60);
        let (first, last) = (
            report.validation[0].kl,
            report.validation.last().unwrap().kl,
        );
        assert!(last < first * 0.9, "KL {first} -> {last}");
        // The model itself is untouched: the offsets are gone after training.
        assert!(model.llama.residual_offsets().is_empty());
        assert_eq!(conditioner.config.layers, opts.layers);
    }

    #[test]
    fn middle_layers_sit_inside_the_model() {
        assert_eq!(middle_layers(30), vec![7, 15, 22]);
        assert_eq!(middle_layers(2), vec![0, 1]);
        assert_eq!(middle_layers(1), vec![0]);
    }
}
