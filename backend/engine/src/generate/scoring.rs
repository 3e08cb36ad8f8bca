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
//! starts with (a task's instructions) join the prefix first and run once.
//!
//! Right padding is safe without a mask: padding sits after a row's real tokens, and causal
//! attention never lets a real token see later positions.

use super::prefix::PrefixState;
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
        let (mut positions, mut targets) = (Vec::new(), Vec::new());
        for (row, &i) in chunk.iter().enumerate() {
            let item = &prepared[i];
            for (j, &token) in item.shared.iter().enumerate() {
                positions.push((row, item.prompt_len() - 1 + j));
                targets.push(vec![token]);
            }
            positions.push((row, item.rest.len() - 1));
            targets.push(item.options.iter().map(|o| o[0]).collect());
        }
        let mut picked = logprobs_at(model, &hidden, &positions, &targets)?.into_iter();
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
            token_logprobs[i] = Some(score_one(model, prefix, item)?);
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
    let mut cache = prefix.batch_cache(model, 1)?;
    model.llama.forward_hidden(
        &Input::from_tokens(&shared, prefix.len(), model.device())?,
        Some(&mut cache),
        Mode::Inference,
    )?;
    for p in prepared.iter_mut() {
        p.rest.drain(..shared.len());
    }
    Ok(PrefixState {
        persona: prefix.persona.clone(),
        tokens: prefix.tokens.iter().chain(&shared).copied().collect(),
        cache,
    })
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

/// Per-option, per-token log-probabilities of one item with multi-token options.
fn score_one(model: &LoadedModel, prefix: &PrefixState, item: &Prepared) -> Result<Vec<Vec<f32>>> {
    let mut cache = prefix.batch_cache(model, 1)?;
    let start = prefix.len();
    let hidden = model.llama.forward_hidden(
        &Input::from_tokens(&item.rest, start, model.device())?,
        Some(&mut cache),
        Mode::Inference,
    )?;
    let first_targets = vec![item.options.iter().map(|o| o[0]).collect::<Vec<u32>>()];
    let first = logprobs_at(model, &hidden, &[(0, item.rest.len() - 1)], &first_targets)?.remove(0);
    let mut out: Vec<Vec<f32>> = first.into_iter().map(|lp| vec![lp]).collect();

    let longer: Vec<usize> = (0..item.options.len())
        .filter(|&o| item.options[o].len() > 1)
        .collect();
    if longer.is_empty() {
        return Ok(out);
    }
    let mut batch = cache.repeat_batch(longer.len())?;
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
        .zip(logprobs_at(model, &hidden, &positions, &targets)?)
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
/// the selected positions go through the output layer.
fn logprobs_at(
    model: &LoadedModel,
    hidden: &Tensor,
    positions: &[(usize, usize)],
    targets: &[Vec<u32>],
) -> Result<Vec<Vec<f32>>> {
    let (_, width, size) = hidden.dims3()?;
    let index: Vec<u32> = positions
        .iter()
        .map(|&(row, t)| (row * width + t) as u32)
        .collect();
    let index = Tensor::new(index.as_slice(), model.device())?;
    let selected = hidden.reshape(((), size))?.index_select(&index, 0)?;
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
mod tests {
    use super::*;
    use crate::models::testing::tiny_model;
    use candle_core::IndexOp;

    /// Brute force for tests: the option's log-probability from one full forward pass without cache.
    fn brute_force_logprob(model: &LoadedModel, persona: &str, prompt: &str, option: &str) -> f64 {
        let parts = model.prompt_parts(persona, prompt);
        let mut tokens = model.tokenizer.encode(&parts.prefix, true).unwrap();
        tokens.extend(model.tokenizer.encode(&parts.rest, false).unwrap());
        let context = tokens.len();
        tokens.extend(
            model
                .tokenizer
                .encode(&model.answer_surface(option), false)
                .unwrap(),
        );
        let input = Input::from_tokens(&tokens, 0, model.device()).unwrap();
        let hidden = model
            .llama
            .forward_hidden(&input, None, Mode::Inference)
            .unwrap();
        let logprobs = candle_nn::ops::log_softmax(
            &model.llama.logits(&hidden.i(0).unwrap()).unwrap(),
            D::Minus1,
        )
        .unwrap();
        let table = logprobs.to_vec2::<f32>().unwrap();
        (context..tokens.len())
            .map(|p| table[p - 1][tokens[p] as usize] as f64)
            .sum()
    }

    fn items() -> Vec<ChoiceItem> {
        let pvq: Vec<String> = (1..=6).map(|i| i.to_string()).collect();
        vec![
            ChoiceItem {
                prompt: "Statement: short. Answer:".into(),
                options: pvq.clone(),
            },
            ChoiceItem {
                prompt:
                    "Statement: a much longer statement about the things the person values. Answer:"
                        .into(),
                options: vec![
                    "Not like me at all".into(),
                    "Like me".into(),
                    "Very much like me".into(),
                ],
            },
            ChoiceItem {
                prompt: "Do you agree?".into(),
                options: vec!["I agree".into(), "I disagree".into(), "a".into()],
            },
            ChoiceItem {
                prompt: "Medium statement here. Answer:".into(),
                options: pvq,
            },
        ]
    }

    #[test]
    fn option_scores_equal_brute_force_full_string_logprobs() {
        for chat in [false, true] {
            let model = tiny_model(chat, 21).unwrap();
            let persona = "Let's roleplay. Value Score: - Power: 2";
            let items = items();
            let scores = score_items(&model, persona, &items, Normalisation::Sum).unwrap();
            for (item, s) in items.iter().zip(&scores) {
                for (o, option) in item.options.iter().enumerate() {
                    let expected = brute_force_logprob(&model, persona, &item.prompt, option);
                    assert!(
                        (s.logprob_sum[o] - expected).abs() < 1e-4,
                        "chat {chat}, {option:?}: {} vs {expected}",
                        s.logprob_sum[o]
                    );
                    let n = model
                        .tokenizer
                        .encode(&model.answer_surface(option), false)
                        .unwrap()
                        .len();
                    assert!((s.logprob_mean[o] - expected / n as f64).abs() < 1e-4);
                }
                assert!((s.probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn items_with_a_common_preamble_score_as_if_asked_alone() {
        // The shared instructions move into the prefix; the scores must not change.
        let preamble = "Indicate whether it is 1, 2 or 3 as a description of you. Statement: ";
        let option_sets: [Vec<String>; 3] = [
            vec!["1".into(), "2".into(), "Not at all".into()],
            // Options that share their first tokens take the batched path.
            vec!["12".into(), "13".into(), "14".into()],
            vec!["xa".into(), "xb".into()],
        ];
        let items: Vec<ChoiceItem> = ["short.", "a longer one here.", "short again."]
            .iter()
            .zip(option_sets)
            .map(|(s, options)| ChoiceItem {
                prompt: format!("{preamble}{s} Answer:"),
                options,
            })
            .collect();
        for (chat, persona) in [(false, ""), (true, "A persona.")] {
            let model = tiny_model(chat, 5).unwrap();
            let prefix = PrefixState::new(&model, persona).unwrap();
            for item in &items[1..] {
                assert!(!prepare(&model, &prefix, 0, item).unwrap().shared.is_empty());
            }
            let together = score_items(&model, persona, &items, Normalisation::Sum).unwrap();
            for (item, s) in items.iter().zip(&together) {
                for (o, option) in item.options.iter().enumerate() {
                    let alone = brute_force_logprob(&model, persona, &item.prompt, option);
                    assert!((s.logprob_sum[o] - alone).abs() < 1e-4, "{option}");
                }
            }
        }
    }

    #[test]
    fn a_shared_option_start_is_found_only_before_one_token_each() {
        assert_eq!(shared_option_start(&[vec![5, 1], vec![5, 2]]), vec![5]);
        assert_eq!(
            shared_option_start(&[vec![5, 6, 1], vec![5, 6, 2]]),
            vec![5, 6]
        );
        // Different lengths, different starts, or one option: the general path.
        assert!(shared_option_start(&[vec![5, 1], vec![5, 2, 3]]).is_empty());
        assert!(shared_option_start(&[vec![5, 1], vec![6, 1]]).is_empty());
        assert!(shared_option_start(&[vec![5, 1]]).is_empty());
        assert!(shared_option_start(&[vec![1], vec![2]]).is_empty());
    }

    #[test]
    fn probabilities_are_a_softmax_of_the_chosen_normalisation() {
        let model = tiny_model(false, 4).unwrap();
        let items = items();
        for norm in [Normalisation::Sum, Normalisation::Mean] {
            for s in score_items(&model, "", &items, norm).unwrap() {
                let chosen = if norm == Normalisation::Sum {
                    &s.logprob_sum
                } else {
                    &s.logprob_mean
                };
                let z: f64 = chosen.iter().map(|x| x.exp()).sum();
                for (p, x) in s.probs.iter().zip(chosen) {
                    assert!((p - x.exp() / z).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn a_reused_prefix_gives_the_same_scores() {
        let model = tiny_model(true, 8).unwrap();
        let prefix = PrefixState::new(&model, "A persona.").unwrap();
        let items = items();
        let once = score_items_with_prefix(&model, &prefix, &items, Normalisation::Mean).unwrap();
        let again =
            score_items_with_prefix(&model, &prefix, &items[1..], Normalisation::Mean).unwrap();
        for (a, b) in once[1..].iter().zip(&again) {
            for (x, y) in a.logprob_sum.iter().zip(&b.logprob_sum) {
                assert!((x - y).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn expected_index_weights_indices_by_probability() {
        assert_eq!(expected_index(&[0.0, 0.0, 1.0]), 2.0);
        assert!((expected_index(&[0.5, 0.0, 0.5]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn items_without_options_are_rejected() {
        let model = tiny_model(false, 4).unwrap();
        let bad = [ChoiceItem {
            prompt: "x".into(),
            options: vec![],
        }];
        assert!(score_items(&model, "", &bad, Normalisation::Sum)
            .unwrap_err()
            .to_string()
            .contains("no answer options"));
    }
}
