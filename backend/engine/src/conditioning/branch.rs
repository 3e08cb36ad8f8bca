//! The model's distribution over an item's options where they part, computed with gradients:
//! the differentiable counterpart of `generate::scoring` for conditioning methods. Options that
//! share a start ("I would say, …" / "I would not say, …") are told apart by their first
//! different token, which the prompt plus the shared start predicts; for the digits "1".."6"
//! that is the digit itself, the same distribution that `expect` scoring reads from the PVQ.
//!
//! Items run whole (chat prefix included, no cache) so that residual offsets computed per batch
//! row reach every position, as they do when an evaluation encodes a conditioned persona prefix.

use crate::generate::{ChoiceItem, PrefixState};
use crate::models::{Input, LoadedModel, Mode};
use crate::{Error, Result};
use candle_core::{Tensor, D};

/// An item's tokens up to the branching point and each option's first own token.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchItem {
    pub tokens: Vec<u32>,
    pub options: Vec<u32>,
}

/// Tokenises `item` as the model's prompts are written, without a persona.
pub fn branch_item(
    model: &LoadedModel,
    prefix: &PrefixState,
    item: &ChoiceItem,
) -> Result<BranchItem> {
    let options = item
        .options
        .iter()
        .map(|o| model.tokenizer.encode(&model.answer_surface(o), false))
        .collect::<Result<Vec<_>>>()?;
    let shortest = options.iter().map(Vec::len).min().unwrap_or(0);
    let mut shared = 0;
    while shared < shortest && options.iter().all(|o| o[shared] == options[0][shared]) {
        shared += 1;
    }
    let firsts: Vec<u32> = options
        .iter()
        .map(|o| o.get(shared).copied())
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::invalid(format!(
                "options {:?}: one option is the start of another, so no token tells them apart",
                item.options
            ))
        })?;
    let mut distinct = firsts.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if options.len() < 2 || distinct.len() != firsts.len() {
        return Err(Error::invalid(format!(
            "options {:?} do not part at one token",
            item.options
        )));
    }
    let mut tokens = prefix.tokens.clone();
    tokens.extend(prefix.rest_tokens(model, &item.prompt)?);
    tokens.extend_from_slice(&options[0][..shared]);
    Ok(BranchItem {
        tokens,
        options: firsts,
    })
}

/// Log-probabilities over each item's options (normalised over the options), one tensor of
/// shape (options,) per item, from one right-padded batch. `mode` Training keeps every op
/// differentiable.
pub fn option_log_probs(
    model: &LoadedModel,
    items: &[BranchItem],
    mode: Mode,
) -> Result<Vec<Tensor>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let logits = model.llama.logits(&answer_states(model, items, mode)?)?;
    items
        .iter()
        .enumerate()
        .map(|(row, item)| {
            let index = Tensor::new(item.options.as_slice(), model.device())?;
            let picked = logits.get(row)?.index_select(&index, 0)?;
            Ok(candle_nn::ops::log_softmax(&picked, D::Minus1)?)
        })
        .collect()
}

/// The final-norm hidden state at each item's branching point, (items, hidden), from one
/// right-padded batch.
pub fn answer_states(model: &LoadedModel, items: &[BranchItem], mode: Mode) -> Result<Tensor> {
    let width = items.iter().map(|i| i.tokens.len()).max().unwrap_or(0);
    if width == 0 {
        return Err(Error::invalid("no item tokens to run"));
    }
    let pad = model.tokenizer.pad_id();
    let ids: Vec<u32> = items
        .iter()
        .flat_map(|i| {
            i.tokens
                .iter()
                .copied()
                .chain(std::iter::repeat_n(pad, width - i.tokens.len()))
        })
        .collect();
    // Right padding needs no mask: causal attention never lets a real token see a later one.
    let input = Input {
        ids: Tensor::from_vec(ids, (items.len(), width), model.device())?,
        positions: vec![(0..width as u32).collect(); items.len()],
        valid: None,
    };
    let hidden = model.llama.forward_hidden(&input, None, mode)?;
    let last: Vec<u32> = items
        .iter()
        .enumerate()
        .map(|(row, i)| (row * width + i.tokens.len() - 1) as u32)
        .collect();
    let size = hidden.dim(2)?;
    Ok(hidden
        .reshape(((), size))?
        .index_select(&Tensor::new(last.as_slice(), model.device())?, 0)?)
}

/// Mean KL(target ‖ model) over the items, as a differentiable scalar.
pub fn kl_loss(log_probs: &[Tensor], targets: &[Vec<f64>]) -> Result<Tensor> {
    if log_probs.is_empty() || log_probs.len() != targets.len() {
        return Err(Error::invalid("a KL loss needs one target per item"));
    }
    let mut terms = Vec::with_capacity(log_probs.len());
    for (lp, target) in log_probs.iter().zip(targets) {
        let t: Vec<f32> = target.iter().map(|&x| x as f32).collect();
        let entropy: f32 = t.iter().filter(|&&x| x > 0.0).map(|&x| x * x.ln()).sum();
        let t = Tensor::new(t.as_slice(), lp.device())?;
        // KL = Σ t log t − Σ t log p.
        terms.push(((t * lp)?.sum_all()?.neg()? + f64::from(entropy))?);
    }
    Ok((Tensor::stack(&terms, 0)?.mean_all())?)
}
