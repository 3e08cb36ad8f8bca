//! Likelihood scoring: the log-probability a model gives each answer option of a
//! multiple-choice item, from which valuelab reads its answer distribution and expected answer.
//!
//! Work per item, with the persona prefix encoded once ([`PrefixState`]):
//! 1. the item's rest of prompt runs once on a fork of the prefix cache; the last position's
//!    logits give every option's first-token log-probability;
//! 2. options longer than one token then run together as one right-padded batch on that cache
//!    repeated per option, and only the positions that predict an option token go through the
//!    output layer (the largest matmul of a small model).
//!
//! Items whose options are all single tokens (chat prompts with "1".."6") need step 1 only,
//! so they run [`ITEM_BATCH`] items at a time as one batch. Tokens that every item's rest
//! starts with (a task's instructions) join the prefix first and run once per persona
//! ([`PrefixState::extended`] keeps the last extension made).
//!
//! With [`ItemShifts`] each item's final-norm states are moved along one direction by the item's
//! own amount before the output layer (a relevance readout), inside the same batches.
//!
//! Right padding is safe without a mask: padding sits after a row's real tokens, and causal
//! attention never lets a real token see later positions.

use super::prefix::PrefixState;
use crate::models::residual::move_along;
use crate::models::{Cache, Input, LoadedModel, Mode};
use crate::{Error, Result};
use candle_core::{Tensor, D};

/// Items per batched forward when every option is one token. Items are sorted by length first,
/// so padding stays small; on 2 cores, 16 PVQ items under a prompt-long persona scored ~15 %
/// faster than 4 (`valuelab bench`, docs/performance.md).
pub const ITEM_BATCH: usize = 16;

/// Which per-option score the probabilities over options are a softmax of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalisation {
    /// Total log-probability of the option's tokens: favours short options.
    Sum,
    /// Mean log-probability per option token: fair between options of different lengths.
    #[default]
    Mean,
}

impl std::str::FromStr for Normalisation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sum" => Ok(Normalisation::Sum),
            "mean" => Ok(Normalisation::Mean),
            _ => Err(Error::invalid(format!(
                "unknown normalisation '{s}' (expected sum or mean)"
            ))),
        }
    }
}

/// A prompt (the task; the persona comes separately) and its answer options, written as a
/// person would answer ("1", "Very much like me"); the model's answer surface adds any space.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceItem {
    pub prompt: String,
    pub options: Vec<String>,
    /// What the item is about without the instructions (a PVQ statement, a ValueNet scenario,
    /// an ESS question), for methods that read it on its own (a relevance readout trained with
    /// `--relevance-text subject`); scoring itself reads only the prompt.
    pub subject: Option<String>,
}

/// Each item's amount along one direction of the final-norm hidden state (1, hidden): item `i`
/// is scored as if the model's readout shifted it by `amounts[i]·direction`
/// (`models::Readout` with a shift). A readout acts after the last block, so it changes only the
/// output layer's input, never the cache: moving the states at the positions that are scored is
/// the same as running the model with that readout, and items with different amounts can share
/// a batch.
#[derive(Debug, Clone, Copy)]
pub struct ItemShifts<'a> {
    pub amounts: &'a [f32],
    pub direction: &'a Tensor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionScores {
    /// log P(option | prompt), natural log, summed over the option's tokens.
    pub logprob_sum: Vec<f64>,
    /// The same divided by the option's token count.
    pub logprob_mean: Vec<f64>,
    /// Softmax over options of the chosen normalisation; sums to 1.
    pub probs: Vec<f64>,
}

/// The expected option index (0-based) under `probs`: Σ i·p_i. On a 1..6 scale whose options
/// are listed in order, the expected answer is this plus one.
pub fn expected_index(probs: &[f64]) -> f64 {
    probs.iter().enumerate().map(|(i, p)| i as f64 * p).sum()
}

/// Scores every item's options under `persona`.
pub fn score_items(
    model: &LoadedModel,
    persona: &str,
    items: &[ChoiceItem],
    norm: Normalisation,
) -> Result<Vec<OptionScores>> {
    let prefix = PrefixState::new(model, persona)?;
    score_items_with_prefix(model, &prefix, items, norm)
}

struct Prepared {
    /// The item's rest of prompt, then the tokens every option starts with (`shared`).
    rest: Vec<u32>,
    /// Tokens all options start with ("I" of "I agree" / "I disagree"), when what is left of
    /// each option is one token: fed as part of the rest, so the item takes the batched path.
    shared: Vec<u32>,
    /// What is left of each option after `shared`.
    options: Vec<Vec<u32>>,
}

impl Prepared {
    /// Index in `rest` of the first shared option token (the rest of prompt's length).
    fn prompt_len(&self) -> usize {
        self.rest.len() - self.shared.len()
    }
}

/// [`score_items`] with a persona prefix encoded earlier (reuse it across calls).
pub fn score_items_with_prefix(
    model: &LoadedModel,
    prefix: &PrefixState,
    items: &[ChoiceItem],
    norm: Normalisation,
) -> Result<Vec<OptionScores>> {
    score_items_shifted(model, prefix, items, norm, None)
}

/// [`score_items_with_prefix`] with each item moved by its own amount ([`ItemShifts`]).
pub fn score_items_shifted(
    model: &LoadedModel,
    prefix: &PrefixState,
    items: &[ChoiceItem],
    norm: Normalisation,
    shifts: Option<ItemShifts>,
) -> Result<Vec<OptionScores>> {
    if let Some(shifts) = shifts.filter(|s| s.amounts.len() != items.len()) {
        return Err(Error::invalid(format!(
            "{} item shifts for {} items (expected one per item)",
            shifts.amounts.len(),
            items.len()
        )));
    }
    // The amount at each scored position of item `i`, when items are shifted.
    let amount_of = |i: usize| shifts.map(|s| s.amounts[i]);
    let direction = shifts.map(|s| s.direction);
    let mut prepared = items
        .iter()
        .enumerate()
        .map(|(i, item)| prepare(model, prefix, i, item))
        .collect::<Result<Vec<_>>>()?;
    let shared = extend_by_shared_start(model, prefix, &mut prepared)?;
    let prefix = &shared;
    let mut token_logprobs: Vec<Option<Vec<Vec<f32>>>> = vec![None; items.len()];

    let mut single: Vec<usize> = (0..items.len())
        .filter(|&i| prepared[i].options.iter().all(|o| o.len() == 1))
        .collect();
    // Batches of similar lengths waste little on padding.
    single.sort_by_key(|&i| prepared[i].rest.len());
    for chunk in single.chunks(ITEM_BATCH) {
        let rests: Vec<&[u32]> = chunk.iter().map(|&i| prepared[i].rest.as_slice()).collect();
        let mut cache = prefix.batch_cache(model, chunk.len())?;
        let hidden = forward_right_padded(model, &mut cache, &rests, prefix.len())?;
        // Per row: the positions predicting each shared option token, then the last position,
        // which predicts every option's own token.
        let (mut positions, mut targets, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
        for (row, &i) in chunk.iter().enumerate() {
            let item = &prepared[i];
            for (j, &token) in item.shared.iter().enumerate() {
                positions.push((row, item.prompt_len() - 1 + j));
                targets.push(vec![token]);
                amounts.extend(amount_of(i));
            }
            positions.push((row, item.rest.len() - 1));
            targets.push(item.options.iter().map(|o| o[0]).collect());
            amounts.extend(amount_of(i));
        }
        let amounts = match direction {
            Some(_) => Some(Tensor::from_vec(
                amounts,
                (positions.len(), 1),
                model.device(),
            )?),
            None => None,
        };
        let moved = amounts.as_ref().zip(direction);
        let mut picked = logprobs_at(model, &hidden, &positions, &targets, moved)?.into_iter();
        for &i in chunk {
            let shared: Vec<f32> = (0..prepared[i].shared.len())
                .map(|_| picked.next().map(|lp| lp[0]))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::invalid("scoring lost a shared option token"))?;
            let own = picked
                .next()
                .ok_or_else(|| Error::invalid("scoring lost an item's options"))?;
            token_logprobs[i] = Some(
                own.into_iter()
                    .map(|lp| shared.iter().copied().chain([lp]).collect())
                    .collect(),
            );
        }
    }
    for (i, item) in prepared.iter().enumerate() {
        if token_logprobs[i].is_none() {
            let moved = direction.zip(amount_of(i));
            token_logprobs[i] = Some(score_one(model, prefix, item, moved)?);
        }
    }
    Ok(token_logprobs
        .into_iter()
        .flatten()
        .map(|per_option| option_scores(&per_option, norm))
        .collect())
}

/// Moves the tokens every item's rest starts with (a task's instructions, like PVQ's option list
/// before each statement) into the prefix, so they run once instead of once per item. Each rest
/// keeps at least its last token, whose logits score the options.
fn extend_by_shared_start(
    model: &LoadedModel,
    prefix: &PrefixState,
    prepared: &mut [Prepared],
) -> Result<PrefixState> {
    let shared = match prepared.split_first() {
        Some((first, others)) => {
            // The position before each item's first option token must stay in its rest.
            let bound = prepared
                .iter()
                .map(|p| p.prompt_len() - 1)
                .min()
                .unwrap_or(0);
            let mut n = 0;
            while n < bound && others.iter().all(|p| p.rest[n] == first.rest[n]) {
                n += 1;
            }
            first.rest[..n].to_vec()
        }
        None => Vec::new(),
    };
    if shared.is_empty() {
        return Ok(prefix.clone());
    }
    let extended = prefix.extended(model, &shared)?;
    for p in prepared.iter_mut() {
        p.rest.drain(..shared.len());
    }
    Ok(extended)
}

fn prepare(
    model: &LoadedModel,
    prefix: &PrefixState,
    index: usize,
    item: &ChoiceItem,
) -> Result<Prepared> {
    if item.options.is_empty() {
        return Err(Error::invalid(format!(
            "item {} has no answer options",
            index + 1
        )));
    }
    let rest = prefix.rest_tokens(model, &item.prompt)?;
    if rest.is_empty() {
        return Err(Error::invalid(format!(
            "item {} has an empty prompt",
            index + 1
        )));
    }
    let mut options = item
        .options
        .iter()
        .map(|o| {
            let tokens = model.tokenizer.encode(&model.answer_surface(o), false)?;
            if tokens.is_empty() {
                return Err(Error::invalid(format!(
                    "item {}: answer option {o:?} is empty",
                    index + 1
                )));
            }
            Ok(tokens)
        })
        .collect::<Result<Vec<_>>>()?;
    let shared = shared_option_start(&options);
    let mut rest = rest;
    if !shared.is_empty() {
        rest.extend_from_slice(&shared);
        for o in &mut options {
            o.drain(..shared.len());
        }
    }
    Ok(Prepared {
        rest,
        shared,
        options,
    })
}

/// The tokens all options start with, when each option has exactly one token after them (two
/// or more options); empty otherwise, as the general path handles any options.
fn shared_option_start(options: &[Vec<u32>]) -> Vec<u32> {
    let Some((first, others)) = options.split_first() else {
        return Vec::new();
    };
    let n = first.len() - 1;
    let same_start = !others.is_empty()
        && n > 0
        && others
            .iter()
            .all(|o| o.len() == first.len() && o[..n] == first[..n]);
    if same_start {
        first[..n].to_vec()
    } else {
        Vec::new()
    }
}

/// Per-option, per-token log-probabilities of one item with multi-token options, its states
/// moved by `moved` = (direction, amount) at every scored position.
fn score_one(
    model: &LoadedModel,
    prefix: &PrefixState,
    item: &Prepared,
    moved: Option<(&Tensor, f32)>,
) -> Result<Vec<Vec<f32>>> {
    // One amount (1, 1) for every scored position: `move_along` broadcasts it.
    let amount = moved
        .map(|(_, a)| Tensor::new(&[[a]], model.device()))
        .transpose()?;
    let moved = amount.as_ref().zip(moved.map(|(d, _)| d));
    let mut cache = prefix.batch_cache(model, 1)?;
    let start = prefix.len();
    let hidden = model.llama.forward_hidden(
        &Input::from_tokens(&item.rest, start, model.device())?,
        Some(&mut cache),
        Mode::Inference,
    )?;
    let first_targets = vec![item.options.iter().map(|o| o[0]).collect::<Vec<u32>>()];
    let first = logprobs_at(
        model,
        &hidden,
        &[(0, item.rest.len() - 1)],
        &first_targets,
        moved,
    )?
    .remove(0);
    let mut out: Vec<Vec<f32>> = first.into_iter().map(|lp| vec![lp]).collect();

    let longer: Vec<usize> = (0..item.options.len())
        .filter(|&o| item.options[o].len() > 1)
        .collect();
    if longer.is_empty() {
        return Ok(out);
    }
    let mut batch = cache.share_batch(longer.len())?;
    // Each row feeds all but the option's last token; position j predicts token j + 1.
    let seqs: Vec<&[u32]> = longer
        .iter()
        .map(|&o| &item.options[o][..item.options[o].len() - 1])
        .collect();
    let hidden = forward_right_padded(model, &mut batch, &seqs, start + item.rest.len())?;
    let (mut positions, mut targets, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (row, &o) in longer.iter().enumerate() {
        for (j, &next) in item.options[o][1..].iter().enumerate() {
            positions.push((row, j));
            targets.push(vec![next]);
            owners.push(o);
        }
    }
    for (o, lp) in owners
        .into_iter()
        .zip(logprobs_at(model, &hidden, &positions, &targets, moved)?)
    {
        out[o].push(lp[0]);
    }
    Ok(out)
}

/// Runs sequences of different lengths as one right-padded batch after `cache` (whose rows
/// must match), all starting at position `start`. Returns hidden states (rows, width, hidden).
fn forward_right_padded(
    model: &LoadedModel,
    cache: &mut Cache,
    seqs: &[&[u32]],
    start: usize,
) -> Result<Tensor> {
    let width = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    let pad = model.tokenizer.pad_id();
    let mut ids = Vec::with_capacity(seqs.len() * width);
    for seq in seqs {
        ids.extend(
            seq.iter()
                .copied()
                .chain(std::iter::repeat_n(pad, width - seq.len())),
        );
    }
    let positions = vec![
        (start..start + width)
            .map(|p| p as u32)
            .collect::<Vec<u32>>();
        seqs.len()
    ];
    let input = Input {
        ids: Tensor::from_vec(ids, (seqs.len(), width), model.device())?,
        positions,
        valid: None,
    };
    model
        .llama
        .forward_hidden(&input, Some(cache), Mode::Inference)
}

/// Log-probabilities of `targets[k]` at hidden position `positions[k]` = (row, time). Only
/// the selected positions go through the output layer; with `moved` = (amounts, direction),
/// position `k`'s state first moves by `amounts[k]·direction` (amounts (positions, 1), or
/// (1, 1) for all).
fn logprobs_at(
    model: &LoadedModel,
    hidden: &Tensor,
    positions: &[(usize, usize)],
    targets: &[Vec<u32>],
    moved: Option<(&Tensor, &Tensor)>,
) -> Result<Vec<Vec<f32>>> {
    let (_, width, size) = hidden.dims3()?;
    let index: Vec<u32> = positions
        .iter()
        .map(|&(row, t)| (row * width + t) as u32)
        .collect();
    let index = Tensor::new(index.as_slice(), model.device())?;
    let mut selected = hidden.reshape(((), size))?.index_select(&index, 0)?;
    if let Some((amounts, direction)) = moved {
        selected = move_along(&selected, amounts, direction)?;
    }
    let logprobs = candle_nn::ops::log_softmax(&model.llama.logits(&selected)?, D::Minus1)?;
    let width = targets.iter().map(Vec::len).max().unwrap_or(0);
    let flat: Vec<u32> = targets
        .iter()
        .flat_map(|t| {
            t.iter()
                .copied()
                .chain(std::iter::repeat_n(0, width - t.len()))
        })
        .collect();
    let gathered = logprobs.gather(
        &Tensor::from_vec(flat, (targets.len(), width), model.device())?,
        1,
    )?;
    let rows = gathered
        .to_dtype(candle_core::DType::F32)?
        .to_vec2::<f32>()?;
    Ok(rows
        .into_iter()
        .zip(targets)
        .map(|(row, t)| row[..t.len()].to_vec())
        .collect())
}

fn option_scores(per_option: &[Vec<f32>], norm: Normalisation) -> OptionScores {
    let logprob_sum: Vec<f64> = per_option
        .iter()
        .map(|lps| lps.iter().map(|&lp| lp as f64).sum())
        .collect();
    let logprob_mean: Vec<f64> = logprob_sum
        .iter()
        .zip(per_option)
        .map(|(s, lps)| s / lps.len() as f64)
        .collect();
    let chosen = match norm {
        Normalisation::Sum => &logprob_sum,
        Normalisation::Mean => &logprob_mean,
    };
    let max = chosen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = chosen.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    let probs = exps.into_iter().map(|e| e / total).collect();
    OptionScores {
        logprob_sum,
        logprob_mean,
        probs,
    }
}

#[cfg(test)]
mod tests;
