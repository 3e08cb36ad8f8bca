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
//!
//! With a relevance layer (`--relevance-layer`), the gate is not learned on the answer state:
//! a value probe reads each item's relevance `r` from the token-averaged states at that layer
//! of its prompt, or of its subject alone (`--relevance-text subject`: a Touché argument's
//! premise, a PVQ statement), fit on the training arguments' value labels, and the item moves
//! by `(r·z)·d`; only `d` is learned. The answer state barely says which value a PVQ-40 item is
//! about, its prompt's averaged states say more (`docs/results.md`). Training items get their
//! relevance from probes fit without their fold, validation items from the final probe, so `d`
//! is fit to relevance as noisy as it will be on new items.

use super::examples::{choice_item, Example, ExampleSet};
use super::relevance::{text_means_with_progress, text_of, RelevanceText};
use super::targets::QA_OPTIONS;
use crate::models::{LoadedModel, Mode, ResidualOffsets};
use crate::vim::Task;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Saved answer states, so that training again with other settings skips the model.
pub const STATES_TENSORS: &str = "answer_states.safetensors";
pub const STATES_TAG: &str = "answer_states.json";
/// Items run through the model in batches of this many.
const STATE_BATCH: usize = 16;
/// A logit that no option gets: pads items with fewer options than the widest.
const ABSENT: f32 = -1.0e4;

/// What the states' progress reports count: items through the model to their answer state,
/// items' texts (prompts or subjects) through the model to their averaged states (relevance),
/// or the texts of the arguments that only fit the probe ([`super::probe_texts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatesPhase {
    Answers,
    TextMeans,
    ProbeTexts,
}

/// Every item's final-norm state at its answer position, with what the output layer makes of
/// it at the item's options.
pub struct AnswerStates {
    pub(super) examples: Vec<(usize, Task)>,
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
    /// (text read, layer) → (items, hidden): the token-averaged states after that layer of each
    /// item's prompt or subject.
    pub(super) means: HashMap<(RelevanceText, usize), Tensor>,
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
        let examples = items_of(arguments);
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
            means: HashMap::new(),
        })
    }

    /// The token-averaged states after `layer` of each item's `text` (its prompt, or its
    /// subject: the argument's premise, shared by its QA and AG items and run once), computed
    /// once (about 0.1 s a prompt for SmolLM2-135M on two cores) and kept with the states; true
    /// when computed now.
    pub fn ensure_means(
        &mut self,
        model: &LoadedModel,
        set: &ExampleSet,
        layer: usize,
        text: RelevanceText,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<bool> {
        if self.means.contains_key(&(text, layer)) {
            return Ok(false);
        }
        // Each distinct text runs once; `rows` says which one each item reads.
        let mut texts: Vec<String> = Vec::new();
        let mut row_of: HashMap<String, u32> = HashMap::new();
        let mut rows: Vec<u32> = Vec::with_capacity(self.examples.len());
        for &(argument, task) in &self.examples {
            let item = choice_item(&set.arguments[argument], task);
            let read = text_of(&item.prompt, item.subject.as_deref(), text)?;
            let row = *row_of.entry(read.to_string()).or_insert_with(|| {
                texts.push(read.to_string());
                texts.len() as u32 - 1
            });
            rows.push(row);
        }
        let rows = Tensor::new(rows.as_slice(), model.device())?;
        let means =
            text_means_with_progress(model, &texts, layer, progress)?.index_select(&rows, 0)?;
        self.means.insert((text, layer), means);
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Writes the states to `dir` (`answer_states.safetensors` and `.json`), tagged with the
    /// model and the arguments they came from.
    pub fn save(&self, dir: &Path, model_name: &str, arguments: &[usize]) -> Result<()> {
        let mut tensors: HashMap<String, Tensor> = [
            ("hidden", &self.hidden),
            ("logits", &self.logits),
            ("option_columns", &self.option_columns),
            ("columns", &self.columns),
        ]
        .into_iter()
        .map(|(name, t)| (name.to_string(), t.clone()))
        .collect();
        for (&(text, layer), means) in &self.means {
            tensors.insert(means_name(text, layer), means.clone());
        }
        candle_core::safetensors::save(&tensors, dir.join(STATES_TENSORS))?;
        let layers_reading = |read: RelevanceText| {
            let mut layers: Vec<usize> = self
                .means
                .keys()
                .filter(|(text, _)| *text == read)
                .map(|&(_, layer)| layer)
                .collect();
            layers.sort_unstable();
            layers
        };
        let tag = StatesTag {
            model: model_name.to_string(),
            arguments: arguments.to_vec(),
            qa_columns: self.qa_columns.clone(),
            mean_layers: layers_reading(RelevanceText::Prompt),
            subject_mean_layers: layers_reading(RelevanceText::Subject),
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
        let prompt_keys = tag.mean_layers.iter().map(|&l| (RelevanceText::Prompt, l));
        let subject_keys = (tag.subject_mean_layers.iter()).map(|&l| (RelevanceText::Subject, l));
        let means = prompt_keys
            .chain(subject_keys)
            .map(|(text, layer)| Ok(((text, layer), take(&means_name(text, layer))?)))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Some(Self {
            examples: items_of(arguments),
            hidden: take("hidden")?,
            logits: take("logits")?,
            option_columns: take("option_columns")?,
            columns: take("columns")?,
            qa_columns: tag.qa_columns,
            means,
        }))
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// A unit direction that raises the QA answer: the output columns of "1".."6" weighted by
    /// how far each lies above the middle of the scale. It starts the direction, since a zero
    /// gate and a zero direction would both get zero gradients.
    pub(super) fn answer_scale_direction(&self) -> Result<Tensor> {
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

    /// The learned gate's amount `h·G·z` (pairs, 1) for pairs of (profile row of `z`, item).
    pub(super) fn gate_amount(
        &self,
        gate_map: &Tensor,
        z: &Tensor,
        items: &Tensor,
    ) -> Result<Tensor> {
        let h = self.hidden.index_select(items, 0)?;
        Ok((h * z.matmul(gate_map)?)?.sum_keepdim(1)?)
    }

    /// Mean KL(target ‖ readout) over pairs of items and targets, each item's options shifted
    /// by its pair's `amount` (pairs, 1) times the direction's output.
    pub(super) fn loss(
        &self,
        amount: &Tensor,
        direction: &Tensor,
        items: &Tensor,
        targets: &Tensor,
    ) -> Result<Tensor> {
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
    /// Layers with the prompts' averaged states, and with the subjects'.
    #[serde(default)]
    mean_layers: Vec<usize>,
    #[serde(default)]
    subject_mean_layers: Vec<usize>,
}

/// The tensor of the averaged states of `text` after `layer`, in `answer_states.safetensors`
/// and in the probe's further texts (`probe_texts.safetensors`) alike.
pub(super) fn means_name(text: RelevanceText, layer: usize) -> String {
    match text {
        RelevanceText::Prompt => format!("means.{layer}"),
        RelevanceText::Subject => format!("subject_means.{layer}"),
    }
}

/// The items of `arguments` in the states' order: each argument's QA item, then its AG item.
fn items_of(arguments: &[usize]) -> Vec<(usize, Task)> {
    arguments
        .iter()
        .flat_map(|&a| [(a, Task::Qa), (a, Task::Ag)])
        .collect()
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

#[cfg(test)]
#[path = "readout_probe_tests.rs"]
mod probe_tests;
#[cfg(test)]
#[path = "readout_relevance_tests.rs"]
mod relevance_tests;
#[cfg(test)]
#[path = "readout_tests.rs"]
mod tests;
