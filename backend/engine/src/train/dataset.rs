//! Training examples as token sequences: a prompt, then the answer the model learns to give.
//!
//! A [`Sample`] keeps the concatenated ids and where the answer starts; the loss is taken on the
//! answer tokens only.
//!
//! How an example becomes tokens ([`encode_example`]) follows option scoring
//! (`generate::scoring`) exactly, so a trained adapter is scored on the prompts it learnt from:
//! the prompt is `LoadedModel::prompt_parts` with the example's persona (none for a one-group
//! adapter, whose values are in its weights; the profile's short prompt for `vim-cond`): the chat format's system and user turns and the assistant header for chat
//! models, the bare prompt otherwise; prefix and rest are encoded separately as scoring does.
//! The answer is `LoadedModel::answer_surface` (no leading space after an assistant header, one
//! space after a plain prompt: "prompt answer"), encoded on its own, followed by the end-of-turn
//! token (`<|im_end|>` for ChatML) or, for plain prompts, the tokenizer's eos when it has one, so
//! the model also learns to stop after the answer.

use crate::models::LoadedModel;
use crate::vim::TrainingExample;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One tokenized example: `ids[answer_start..]` are the answer tokens the loss is taken on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub ids: Vec<u32>,
    pub answer_start: usize,
}

impl Sample {
    /// Joins prompt and answer ids, cutting the sequence to `max_len` tokens when given: prompt
    /// tokens go first, from the start (the end of the prompt, next to the answer, matters most;
    /// Hugging Face calls this left truncation), then, only if the answer alone is too long, its
    /// tail. At least one prompt token is kept, because the first answer token is predicted from
    /// the token before it. Returns the sample and whether anything was cut.
    pub fn new(prompt: &[u32], answer: &[u32], max_len: Option<usize>) -> Result<(Sample, bool)> {
        if prompt.is_empty() || answer.is_empty() {
            return Err(Error::invalid(
                "a training example needs a non-empty prompt and answer",
            ));
        }
        let max_len = max_len.unwrap_or(usize::MAX);
        if max_len < 2 {
            return Err(Error::invalid(format!(
                "max sequence length {max_len} is too short (at least 2 tokens)"
            )));
        }
        let answer_len = answer.len().min(max_len - 1);
        let prompt_len = prompt.len().min(max_len - answer_len);
        let truncated = answer_len < answer.len() || prompt_len < prompt.len();
        let mut ids = prompt[prompt.len() - prompt_len..].to_vec();
        ids.extend_from_slice(&answer[..answer_len]);
        Ok((
            Sample {
                ids,
                answer_start: prompt_len,
            },
            truncated,
        ))
    }

    /// Tokens whose prediction is scored.
    pub fn answer_tokens(&self) -> usize {
        self.ids.len() - self.answer_start
    }
}

/// Prompt ids and answer ids of one example, as described in the module documentation.
pub fn encode_example(
    model: &LoadedModel,
    persona: &str,
    prompt: &str,
    answer: &str,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let parts = model.prompt_parts(persona, prompt);
    let mut prompt_ids = model.tokenizer.encode(&parts.prefix, true)?;
    prompt_ids.extend(model.tokenizer.encode(&parts.rest, false)?);
    let mut answer_ids = model
        .tokenizer
        .encode(&model.answer_surface(answer), false)?;
    let end = match &model.chat {
        Some(chat) => model.tokenizer.token_id(chat.end_of_turn()),
        None => model.tokenizer.eos_id(),
    };
    answer_ids.extend(end);
    Ok((prompt_ids, answer_ids))
}

/// Tokenized examples, each cut to `max_len`; also returns how many had to be cut.
pub fn encode_examples(
    model: &LoadedModel,
    examples: &[TrainingExample],
    max_len: Option<usize>,
) -> Result<(Vec<Sample>, usize)> {
    let mut samples = Vec::with_capacity(examples.len());
    let mut truncated = 0;
    for (i, example) in examples.iter().enumerate() {
        let (prompt, answer) =
            encode_example(model, &example.persona, &example.prompt, &example.answer)?;
        let (sample, cut) = Sample::new(&prompt, &answer, max_len).map_err(|e| {
            Error::invalid(format!(
                "training example {} (argument {}): {e}",
                i + 1,
                example.argument_id
            ))
        })?;
        truncated += usize::from(cut);
        samples.push(sample);
    }
    Ok((samples, truncated))
}

/// The example order of one epoch: a permutation derived from the seed and the epoch alone, so a
/// resumed run can rebuild it without saved random state.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// A seeded subset of at most `max` items (all of them, in order, when `max` is None or large
/// enough), for CPU-sized training budgets that still sample the whole dataset.
pub fn subsample<T>(items: Vec<T>, max: Option<usize>, seed: u64) -> Vec<T> {
    match max {
        Some(max) if max < items.len() => {
            let mut keep = epoch_order(items.len(), seed.wrapping_add(1), usize::MAX);
            keep.truncate(max);
            keep.sort_unstable();
            let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
            keep.into_iter().filter_map(|i| slots[i].take()).collect()
        }
        _ => items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::tiny_model;

    #[test]
    fn chat_examples_are_the_scoring_prompt_then_the_answer_and_end_of_turn() {
        let model = tiny_model(true, 1).unwrap();
        let (prompt, answer) =
            encode_example(&model, "", "Statement: x. Answer:", "I would say yes").unwrap();
        let parts = model.prompt_parts("", "Statement: x. Answer:");
        assert!(parts.full().ends_with("<|im_start|>assistant\n"));
        let mut expected = model.tokenizer.encode(&parts.prefix, true).unwrap();
        expected.extend(model.tokenizer.encode(&parts.rest, false).unwrap());
        assert_eq!(prompt, expected);
        let im_end = model.tokenizer.token_id("<|im_end|>").unwrap();
        assert_eq!(answer.last(), Some(&im_end));
        assert_eq!(
            model.tokenizer.decode(&answer, false).unwrap(),
            "I would say yes<|im_end|>"
        );
    }

    /// A `vim-cond` example is encoded as scoring encodes a persona's prompt: the persona in the
    /// prefix, the task after it.
    #[test]
    fn persona_examples_encode_as_scoring_prompts_with_that_persona() {
        let model = tiny_model(true, 1).unwrap();
        let persona = "Let's roleplay.\nValue Score:\n- Power: 2.0\n";
        let (prompt, _) = encode_example(&model, persona, "Answer:", "5").unwrap();
        let parts = model.prompt_parts(persona, "Answer:");
        assert!(parts.prefix.contains("- Power: 2.0"));
        let mut expected = model.tokenizer.encode(&parts.prefix, true).unwrap();
        expected.extend(model.tokenizer.encode(&parts.rest, false).unwrap());
        assert_eq!(prompt, expected);
        assert_ne!(
            prompt,
            encode_example(&model, "", "Answer:", "5").unwrap().0
        );
    }

    #[test]
    fn plain_examples_put_one_space_between_prompt_and_answer() {
        let model = tiny_model(false, 1).unwrap();
        let (prompt, answer) = encode_example(&model, "", "Answer:", "5").unwrap();
        let mut ids = prompt.clone();
        ids.extend(&answer);
        let text = model.tokenizer.decode(&ids, true).unwrap();
        assert_eq!(text, "Answer: 5");
        let examples = [TrainingExample {
            persona: String::new(),
            prompt: "Answer:".into(),
            answer: "5".into(),
            task: crate::vim::Task::Qa,
            argument_id: 3,
        }];
        let (samples, cut) = encode_examples(&model, &examples, Some(3)).unwrap();
        assert_eq!(cut, 1);
        assert_eq!(samples[0].ids.len(), 3);
    }

    #[test]
    fn prompt_is_cut_from_the_left_and_the_answer_kept_whole() {
        let (s, cut) = Sample::new(&[1, 2, 3, 4, 5], &[8, 9], Some(5)).unwrap();
        assert!(cut);
        assert_eq!(s.ids, vec![3, 4, 5, 8, 9]);
        assert_eq!(s.answer_start, 3);
        assert_eq!(s.answer_tokens(), 2);
    }

    #[test]
    fn an_answer_longer_than_the_limit_keeps_one_prompt_token_and_its_head() {
        let (s, cut) = Sample::new(&[1, 2], &[7, 8, 9, 10], Some(3)).unwrap();
        assert!(cut);
        assert_eq!(s.ids, vec![2, 7, 8]);
        assert_eq!(s.answer_start, 1);
    }

    #[test]
    fn short_examples_are_untouched() {
        let (s, cut) = Sample::new(&[1, 2], &[3], Some(8)).unwrap();
        assert!(!cut);
        assert_eq!((s.ids, s.answer_start), (vec![1, 2, 3], 2));
        assert!(Sample::new(&[], &[3], None).is_err());
    }

    #[test]
    fn epoch_orders_are_permutations_that_differ_by_epoch_and_repeat_by_seed() {
        let a = epoch_order(50, 3, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 3, 0));
        assert_ne!(a, epoch_order(50, 3, 1));
        assert_ne!(a, epoch_order(50, 4, 0));
    }

    #[test]
    fn subsample_keeps_the_original_order_of_a_seeded_subset() {
        let items: Vec<usize> = (0..100).collect();
        let sub = subsample(items.clone(), Some(10), 5);
        assert_eq!(sub.len(), 10);
        assert!(sub.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sub, subsample(items.clone(), Some(10), 5));
        assert_eq!(subsample(items.clone(), None, 5), items);
    }
}
