//! `steer`: training-free steering vectors. For each value v and candidate layer l, u_v is the
//! mean residual stream (averaged over an argument's tokens) of Touché arguments that express v
//! minus that of arguments that do not. A profile then adds α·Σ_v z_v·u_v at one layer. The layer
//! and α are chosen by the mean KL on validation profiles' examples, never on held-out profiles
//! or the evaluation instruments; α = 0 (the plain model) is a candidate, so a useless direction
//! is not forced on the model.

use super::conditioner::{ConditionerConfig, ConditionerKind, ProfileConditioner};
use super::examples::{Example, ExampleSet};
use crate::data::touche::Argument;
use crate::models::{Input, LoadedModel};
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use valuelab_common::{ValueDistribution, VALUE_COUNT};

/// The first-person statement an argument makes (the QA prompt's statement).
fn statement(argument: &Argument) -> String {
    format!(
        "I {} with {}. {}.",
        argument.stance.as_str(),
        argument.conclusion,
        argument.premise
    )
}

/// Token-averaged residual streams of `texts` after each of `layers`: one (texts, hidden)
/// tensor per layer. Each text runs alone, so no padding enters a mean (a few hundred arguments
/// take a minute or two; batching would need masked means for little gain).
pub fn mean_activations(
    model: &LoadedModel,
    texts: &[String],
    layers: &[usize],
) -> Result<Vec<Tensor>> {
    let deepest = layers
        .iter()
        .copied()
        .max()
        .ok_or_else(|| Error::invalid("no layers to read"))?;
    let mut per_layer: Vec<Vec<Tensor>> = vec![Vec::new(); layers.len()];
    for text in texts {
        let tokens = model.tokenizer.encode(text, true)?;
        let input = Input::from_tokens(&tokens, 0, model.device())?;
        let stream = model.llama.residual_stream(&input, deepest)?;
        for (slot, &layer) in per_layer.iter_mut().zip(layers) {
            slot.push(stream[layer].squeeze(0)?.mean(0)?);
        }
    }
    per_layer
        .into_iter()
        .map(|rows| Ok(Tensor::stack(&rows, 0)?))
        .collect()
}

/// u_v per value (rows of a (10, hidden) tensor) from pooled activations (arguments, hidden).
pub fn contrastive_vectors(activations: &Tensor, arguments: &[Argument]) -> Result<Tensor> {
    let hidden = activations.dim(1)?;
    let mut rows = Vec::with_capacity(VALUE_COUNT);
    for v in 0..VALUE_COUNT {
        let (with, without): (Vec<u32>, Vec<u32>) =
            (0..arguments.len() as u32).partition(|&i| arguments[i as usize].values[v]);
        if with.is_empty() || without.is_empty() {
            rows.push(Tensor::zeros(hidden, DType::F32, activations.device())?);
            continue;
        }
        let mean = |idx: &[u32]| -> Result<Tensor> {
            let index = Tensor::new(idx, activations.device())?;
            Ok(activations.index_select(&index, 0)?.mean(0)?)
        };
        rows.push((mean(&with)? - mean(&without)?)?);
    }
    Ok(Tensor::stack(&rows, 0)?)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrengthTrial {
    pub layer: usize,
    pub alpha: f64,
    pub kl: f64,
}

/// Tries every (layer, α) on the validation examples and keeps the lowest mean KL; `tried`
/// hears of each trial as it ends.
#[allow(clippy::too_many_arguments)]
pub fn choose_strength(
    model: &mut LoadedModel,
    model_name: &str,
    set: &mut ExampleSet,
    validation: &[ValueDistribution],
    held: &[Example],
    mean: [f64; VALUE_COUNT],
    candidates: &[(usize, Tensor)],
    alphas: &[f64],
    batch_size: usize,
    tried: &mut dyn FnMut(&StrengthTrial),
) -> Result<(ProfileConditioner, Vec<StrengthTrial>)> {
    let hidden = model.llama.config().hidden_size;
    let make = |layer: usize, vectors: &Tensor, alpha: f64| {
        ProfileConditioner::new(
            ConditionerConfig {
                method: ConditionerKind::Steer,
                model: model_name.to_string(),
                hidden_size: hidden,
                layers: vec![layer],
                mean,
                scale: alpha,
                training: serde_json::Value::Null,
                relevance_layer: None,
                relevance_text: Default::default(),
            },
            vec![vectors.clone()],
        )
    };
    let mut trials = Vec::new();
    let mut best: Option<(f64, ProfileConditioner)> = None;
    for (n, (layer, vectors)) in candidates.iter().enumerate() {
        for &alpha in alphas {
            // α = 0 is the plain model whatever the layer: tried once.
            if alpha == 0.0 && n > 0 {
                continue;
            }
            let c = make(*layer, vectors, alpha)?;
            let kl = set.mean_kl(model, Some(&c), validation, held, batch_size)?;
            let trial = StrengthTrial {
                layer: *layer,
                alpha,
                kl,
            };
            tried(&trial);
            trials.push(trial);
            if best.as_ref().is_none_or(|(b, _)| kl < *b) {
                best = Some((kl, c));
            }
        }
    }
    let (_, chosen) =
        best.ok_or_else(|| Error::invalid("no steering candidates to choose from"))?;
    Ok((chosen, trials))
}

pub fn statements(arguments: &[Argument]) -> Vec<String> {
    arguments.iter().map(statement).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::touche::Stance;
    use candle_core::Device;

    fn argument(values: &[usize]) -> Argument {
        let mut flags = [false; VALUE_COUNT];
        for &v in values {
            flags[v] = true;
        }
        Argument {
            id: 0,
            conclusion: "c".into(),
            stance: Stance::Against,
            premise: "p".into(),
            values: flags,
        }
    }

    #[test]
    fn a_steering_vector_is_the_mean_with_the_value_minus_the_mean_without() {
        let acts = Tensor::new(
            &[[1.0f32, 0.0], [3.0, 2.0], [0.0, 4.0], [2.0, 2.0]],
            &Device::Cpu,
        )
        .unwrap();
        let args = vec![
            argument(&[0]),
            argument(&[0, 1]),
            argument(&[1]),
            argument(&[]),
        ];
        let u = contrastive_vectors(&acts, &args)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // Value 0: mean of rows 0,1 = (2, 1); of rows 2,3 = (1, 3).
        assert_eq!(u[0], vec![1.0, -2.0]);
        // Value 1: mean of rows 1,2 = (1.5, 3); of rows 0,3 = (1.5, 1).
        assert_eq!(u[1], vec![0.0, 2.0]);
        // A value no argument expresses gets no direction.
        assert_eq!(u[5], vec![0.0, 0.0]);
    }

    #[test]
    fn the_offset_is_alpha_times_the_profile_weighted_sum_of_vectors() {
        let vectors = Tensor::new(
            &[
                [1.0f32, 0.0],
                [0.0, 1.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [0.0, 0.0],
                [2.0, 2.0],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let c = ProfileConditioner::new(
            ConditionerConfig {
                method: ConditionerKind::Steer,
                model: "tiny".into(),
                hidden_size: 2,
                layers: vec![1],
                mean: [3.0; VALUE_COUNT],
                scale: 0.5,
                training: serde_json::Value::Null,
                relevance_layer: None,
                relevance_text: Default::default(),
            },
            vec![vectors],
        )
        .unwrap();
        let mut profile = [3.0; VALUE_COUNT];
        profile[0] = 5.0; // z_0 = 2
        profile[1] = 2.0; // z_1 = -1
        profile[9] = 4.0; // z_9 = 1
        let offsets = c.offsets(&[profile, [3.0; VALUE_COUNT]]).unwrap();
        assert_eq!(offsets.layers(), vec![1]);
        let x = Tensor::zeros((2, 1, 2), DType::F32, &Device::Cpu).unwrap();
        let out = offsets
            .add_after(1, x)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // 0.5 · (2·(1,0) − 1·(0,1) + 1·(2,2)) = (2, 0.5); the mean profile adds nothing.
        assert_eq!(out, vec![vec![2.0, 0.5], vec![0.0, 0.0]]);
    }
}
