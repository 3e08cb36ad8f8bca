//! Value relevance: how much an item's text is about each of the ten values, read by a linear
//! probe (softmax over the values) from the model's residual stream after one layer, averaged
//! over the text's tokens. The probe is fit on Touché prompts and their arguments' value labels
//! only, so the evaluation instruments stay unseen.
//!
//! Why a separate pass over the text: the state at the answer position, where `profile-readout`
//! first read its gate, hardly says which value a PVQ-40 item is about (a probe trained on
//! Touché answer states puts 3.5 values above the item's own on average, 4.5 by chance), while
//! the token-averaged stream of a middle-to-late layer does better (2.5–2.9 above), and the
//! readout follows a profile's priorities only as well as it knows the item's value
//! (`docs/conditioning.md`).

use super::steer::mean_activations;
use crate::data::touche::Argument;
use crate::models::LoadedModel;
use crate::train::optim::{AdamW, ParamsAdamW};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use valuelab_common::VALUE_COUNT;

/// Tensor names in a conditioner's safetensors.
const WEIGHT: &str = "relevance.weight";
const BIAS: &str = "relevance.bias";
const MEAN: &str = "relevance.mean";
const SPREAD: &str = "relevance.spread";

/// Which text of an item the value probe reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelevanceText {
    /// The prompt as built: the task's instructions and options around the item.
    #[default]
    Prompt,
    /// What the item is about alone ([`crate::generate::ChoiceItem::subject`]): a Touché
    /// argument's premise in training; the PVQ statement, the ValueNet scenario, the ESS
    /// question or the debated conclusion when answering. The prompts of different instruments
    /// share little but their item, so a probe fit on Touché prompts carries less to PVQ-40
    /// (3.1 values ranked above the item's own at layer 22) than one fit on premises and
    /// reading statements (2.25; `docs/results.md`).
    Subject,
}

impl RelevanceText {
    pub fn name(self) -> &'static str {
        match self {
            RelevanceText::Prompt => "prompt",
            RelevanceText::Subject => "subject",
        }
    }

    pub fn is_prompt(&self) -> bool {
        *self == RelevanceText::Prompt
    }
}

/// The text of an item (`prompt`, `subject`) that a probe reading `text` reads; an item without
/// a subject cannot be read by a probe that reads subjects.
pub fn text_of<'a>(
    prompt: &'a str,
    subject: Option<&'a str>,
    text: RelevanceText,
) -> Result<&'a str> {
    match text {
        RelevanceText::Prompt => Ok(prompt),
        RelevanceText::Subject => subject.ok_or_else(|| {
            Error::invalid(format!(
                "the relevance readout reads what each item is about, and the item '{}' does not say: give the item a subject, or use a readout trained with --relevance-text prompt",
                prompt.chars().take(60).collect::<String>()
            ))
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeTraining {
    pub steps: usize,
    pub lr: f64,
    pub weight_decay: f64,
}

impl Default for ProbeTraining {
    /// Full-batch steps on a few thousand texts: a second or two on two cores.
    fn default() -> Self {
        Self {
            steps: 600,
            lr: 1e-3,
            weight_decay: 0.1,
        }
    }
}

/// A softmax probe over the values on standardised token-averaged states of one layer.
#[derive(Debug, Clone)]
pub struct ValueProbe {
    pub layer: usize,
    /// (1, hidden): the training texts' mean state and its spread per unit.
    mean: Tensor,
    spread: Tensor,
    /// (hidden, 10) and (1, 10).
    weight: Tensor,
    bias: Tensor,
}

impl ValueProbe {
    /// Fits the probe to `features` (texts, hidden) and `labels` (texts, 10; rows sum to 1) by
    /// cross-entropy, all texts in every step.
    pub fn fit(
        layer: usize,
        features: &Tensor,
        labels: &Tensor,
        opts: &ProbeTraining,
    ) -> Result<Self> {
        let (rows, hidden) = features.dims2()?;
        if rows == 0 || labels.dims() != [rows, VALUE_COUNT] {
            return Err(Error::invalid(format!(
                "a value probe needs one label row of {VALUE_COUNT} per text: {rows} texts, labels {:?}",
                labels.dims()
            )));
        }
        let device = features.device();
        let mean = features.mean_keepdim(0)?;
        let spread = features
            .broadcast_sub(&mean)?
            .sqr()?
            .mean_keepdim(0)?
            .sqrt()?
            .clamp(1e-4, f64::MAX)?;
        let x = features.broadcast_sub(&mean)?.broadcast_div(&spread)?;
        let weight = Var::zeros((hidden, VALUE_COUNT), DType::F32, device)?;
        let bias = Var::zeros((1, VALUE_COUNT), DType::F32, device)?;
        let mut optimizer = AdamW::new(
            vec![
                ("weight".into(), weight.clone()),
                ("bias".into(), bias.clone()),
            ],
            ParamsAdamW {
                lr: opts.lr,
                weight_decay: opts.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        for _ in 0..opts.steps {
            let logits = x
                .matmul(weight.as_tensor())?
                .broadcast_add(bias.as_tensor())?;
            let log_p = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            let loss = (labels * log_p)?.sum(1)?.mean_all()?.neg()?;
            let grads = loss.backward()?;
            optimizer.step(&[
                grads.get(weight.as_tensor()).cloned(),
                grads.get(bias.as_tensor()).cloned(),
            ])?;
        }
        Ok(Self {
            layer,
            mean,
            spread,
            weight: weight.as_tensor().copy()?.detach(),
            bias: bias.as_tensor().copy()?.detach(),
        })
    }

    /// Relevance (texts, 10), rows summing to 1, of token-averaged states `features`.
    pub fn relevance_of(&self, features: &Tensor) -> Result<Tensor> {
        let x = features
            .broadcast_sub(&self.mean)?
            .broadcast_div(&self.spread)?;
        let logits = x.matmul(&self.weight)?.broadcast_add(&self.bias)?;
        Ok(candle_nn::ops::softmax(&logits, D::Minus1)?)
    }

    /// Relevance (texts, 10) of `texts`, each run through `model` up to the probe's layer.
    pub fn relevance(&self, model: &LoadedModel, texts: &[String]) -> Result<Tensor> {
        let features = text_means(model, texts, self.layer)?;
        self.relevance_of(&features)
    }

    pub fn hidden_size(&self) -> usize {
        self.weight.dim(0).unwrap_or(0)
    }

    pub fn tensors(&self) -> Result<Vec<(String, Tensor)>> {
        [
            (WEIGHT, &self.weight),
            (BIAS, &self.bias),
            (MEAN, &self.mean),
            (SPREAD, &self.spread),
        ]
        .into_iter()
        .map(|(name, t)| Ok((name.to_string(), t.to_dtype(DType::F32)?.detach())))
        .collect()
    }

    /// The probe saved by [`Self::tensors`] for `layer` and a model of width `hidden`.
    pub fn from_tensors(
        layer: usize,
        hidden: usize,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self> {
        let get = |name: &str, dims: [usize; 2]| {
            let t = tensors
                .get(name)
                .cloned()
                .ok_or_else(|| Error::invalid(format!("the conditioner has no tensor {name}")))?;
            if t.dims() != dims {
                return Err(Error::invalid(format!(
                    "tensor {name} has shape {:?}; expected {dims:?}",
                    t.dims()
                )));
            }
            Ok(t)
        };
        Ok(Self {
            layer,
            mean: get(MEAN, [1, hidden])?,
            spread: get(SPREAD, [1, hidden])?,
            weight: get(WEIGHT, [hidden, VALUE_COUNT])?,
            bias: get(BIAS, [1, VALUE_COUNT])?,
        })
    }
}

/// Token-averaged states (texts, hidden) of `texts` after `layer`.
pub fn text_means(model: &LoadedModel, texts: &[String], layer: usize) -> Result<Tensor> {
    let mut per_layer = mean_activations(model, texts, &[layer])?;
    per_layer
        .pop()
        .ok_or_else(|| Error::invalid("no states came back"))
}

/// Texts run through the model between two progress reports.
const PROGRESS_CHUNK: usize = 64;

/// [`text_means`] of many texts (at least one), calling `progress(done, total)` after every
/// [`PROGRESS_CHUNK`] of them: thousands of texts take minutes.
pub fn text_means_with_progress(
    model: &LoadedModel,
    texts: &[String],
    layer: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Tensor> {
    let mut parts = Vec::new();
    for chunk in texts.chunks(PROGRESS_CHUNK) {
        parts.push(text_means(model, chunk, layer)?);
        progress((parts.len() * PROGRESS_CHUNK).min(texts.len()), texts.len());
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// Each argument's expressed values as a distribution (texts, 10): 1/k on each of its k values.
pub fn value_labels(arguments: &[&Argument], device: &Device) -> Result<Tensor> {
    let mut rows = Vec::with_capacity(arguments.len() * VALUE_COUNT);
    for argument in arguments {
        let count = argument.expressed_values().count();
        if count == 0 {
            return Err(Error::invalid(
                "an argument without values cannot label a value probe",
            ));
        }
        rows.extend(
            argument
                .values
                .iter()
                .map(|&on| if on { 1.0 / count as f32 } else { 0.0 }),
        );
    }
    Ok(Tensor::from_vec(
        rows,
        (arguments.len(), VALUE_COUNT),
        device,
    )?)
}

/// Relevance of every row of `features` from a probe fit without that row's fold (`groups`:
/// each row's group; rows of one group share a fold, so two prompts of one argument never
/// help each other). The readout's direction is fit to these, so it learns from relevance as
/// good as it will be on new texts rather than from a probe's memory of its training texts.
pub fn out_of_fold(
    layer: usize,
    features: &Tensor,
    labels: &Tensor,
    groups: &[usize],
    folds: usize,
    opts: &ProbeTraining,
) -> Result<Tensor> {
    let rows = features.dim(0)?;
    let folds = folds.max(2);
    let device = features.device();
    let mut relevance = vec![0f32; rows * VALUE_COUNT];
    for fold in 0..folds {
        let (held, kept): (Vec<u32>, Vec<u32>) =
            (0..rows as u32).partition(|&r| groups[r as usize] % folds == fold);
        if held.is_empty() {
            continue;
        }
        if kept.is_empty() {
            return Err(Error::invalid("a value probe needs more than one argument"));
        }
        let pick = |t: &Tensor, idx: &[u32]| -> Result<Tensor> {
            Ok(t.index_select(&Tensor::new(idx, device)?, 0)?)
        };
        let probe = ValueProbe::fit(layer, &pick(features, &kept)?, &pick(labels, &kept)?, opts)?;
        let held_relevance: Vec<Vec<f32>> =
            probe.relevance_of(&pick(features, &held)?)?.to_vec2()?;
        for (&row, r) in held.iter().zip(held_relevance) {
            let at = row as usize * VALUE_COUNT;
            relevance[at..at + VALUE_COUNT].copy_from_slice(&r);
        }
    }
    Ok(Tensor::from_vec(relevance, (rows, VALUE_COUNT), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts whose state points along value `v`'s axis, with noise in the other units.
    fn separable(rows: usize, device: &Device) -> (Tensor, Tensor, Vec<usize>) {
        let hidden = 16;
        let mut x = vec![0f32; rows * hidden];
        let mut y = vec![0f32; rows * VALUE_COUNT];
        let mut values = Vec::new();
        for r in 0..rows {
            let v = r % VALUE_COUNT;
            values.push(v);
            x[r * hidden + v] = 3.0;
            for k in 0..hidden {
                x[r * hidden + k] += ((r * 31 + k * 17) % 7) as f32 * 0.1;
            }
            y[r * VALUE_COUNT + v] = 1.0;
        }
        (
            Tensor::from_vec(x, (rows, hidden), device).unwrap(),
            Tensor::from_vec(y, (rows, VALUE_COUNT), device).unwrap(),
            values,
        )
    }

    fn argmax_rows(t: &Tensor) -> Vec<usize> {
        t.argmax(1)
            .unwrap()
            .to_vec1::<u32>()
            .unwrap()
            .into_iter()
            .map(|v| v as usize)
            .collect()
    }

    #[test]
    fn a_probe_learns_which_value_a_state_is_about_and_its_rows_sum_to_one() {
        let device = Device::Cpu;
        let (x, y, values) = separable(60, &device);
        let probe = ValueProbe::fit(3, &x, &y, &ProbeTraining::default()).unwrap();
        let relevance = probe.relevance_of(&x).unwrap();
        assert_eq!(argmax_rows(&relevance), values);
        for row in relevance.to_vec2::<f32>().unwrap() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // An untrained probe (no steps) spreads relevance evenly.
        let flat = ValueProbe::fit(
            3,
            &x,
            &y,
            &ProbeTraining {
                steps: 0,
                ..ProbeTraining::default()
            },
        )
        .unwrap();
        let even = flat.relevance_of(&x).unwrap().to_vec2::<f32>().unwrap();
        assert!(even[0].iter().all(|&p| (p - 0.1).abs() < 1e-6));
    }

    #[test]
    fn saved_tensors_give_the_same_probe_and_a_wrong_shape_is_refused() {
        let device = Device::Cpu;
        let (x, y, _) = separable(30, &device);
        let probe = ValueProbe::fit(5, &x, &y, &ProbeTraining::default()).unwrap();
        let tensors: HashMap<String, Tensor> = probe.tensors().unwrap().into_iter().collect();
        let again = ValueProbe::from_tensors(5, 16, &tensors).unwrap();
        let (a, b) = (
            probe.relevance_of(&x).unwrap().to_vec2::<f32>().unwrap(),
            again.relevance_of(&x).unwrap().to_vec2::<f32>().unwrap(),
        );
        assert_eq!(a, b);
        let err = ValueProbe::from_tensors(5, 32, &tensors).unwrap_err();
        assert!(err.to_string().contains("relevance.mean"), "{err}");
        let mut missing = tensors.clone();
        missing.remove(WEIGHT);
        assert!(ValueProbe::from_tensors(5, 16, &missing).is_err());
    }

    #[test]
    fn out_of_fold_relevance_never_comes_from_a_probe_that_saw_the_row() {
        let device = Device::Cpu;
        let (x, y, values) = separable(40, &device);
        // Each group holds one value's rows only, and folds split by group: the probe scoring a
        // fold never saw that fold's values, so it cannot name them the way a probe trained on
        // every row does.
        let groups: Vec<usize> = values.iter().map(|&v| v % 2).collect();
        let oof = out_of_fold(0, &x, &y, &groups, 2, &ProbeTraining::default()).unwrap();
        let right = argmax_rows(&oof)
            .iter()
            .zip(&values)
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(right, 0);
        // Folds that mix the values: rows are scored by probes that learned each value.
        let mixed: Vec<usize> = (0..40).map(|r| r / 10).collect();
        let oof = out_of_fold(0, &x, &y, &mixed, 4, &ProbeTraining::default()).unwrap();
        assert_eq!(argmax_rows(&oof), values);
    }

    #[test]
    fn labels_spread_evenly_over_an_arguments_values() {
        let device = Device::Cpu;
        let mut argument = crate::conditioning::testing::argument(0, 1);
        argument.values[4] = true;
        let labels = value_labels(&[&argument], &device).unwrap();
        let row = labels.to_vec2::<f32>().unwrap().remove(0);
        assert_eq!(row[1], 0.5);
        assert_eq!(row[4], 0.5);
        assert_eq!(row.iter().sum::<f32>(), 1.0);
        argument.values = [false; VALUE_COUNT];
        assert!(value_labels(&[&argument], &device).is_err());
    }
}
