//! A persona's prompt prefix, encoded once: its tokens and the KV cache after them. Scoring
//! and generation fork the cache (cloning shares the tensors) for every item or batch, so an
//! evaluation runs each group's persona through the model exactly once.
//!
//! The prefix runs in blocks of [`PREFIX_BLOCK`] tokens, each over the blocks before it, and a
//! prefix built after another reuses every block whose tokens, and all tokens before them, are
//! the same (prefix caching in blocks, as vLLM's automatic prefix caching does). Personas of
//! one method share their template's start: prompt-long's ten value definitions, about 300 of
//! its 430 tokens, are the same for every group, and its first block runs once per evaluation.
//! Where the blocks start does not depend on the
//! earlier prefix, so a reused block equals a recomputed one bit for bit, and a group's answers
//! do not depend on which group ran before it (a resumed run gives the same numbers).

use crate::models::{Cache, Input, LoadedModel, Mode};
use crate::{Error, Result};
use std::sync::{Arc, Mutex};

/// Tokens per prefix block. Smaller blocks would reuse more of a shared start (half a block
/// after it runs again on average), but on 2 cores a forward step of 64 rows costs far more
/// than a quarter of one of 256 (every call packs the weights again): with blocks of 64,
/// prompt-long's 16 personas took as long as without reuse; with 256, whose first block
/// prompt-long's definitions fill, a sixth less (docs/performance.md).
pub const PREFIX_BLOCK: usize = 256;

#[derive(Clone)]
pub struct PrefixState {
    pub persona: String,
    /// Tokens of `prompt_parts(persona, _).prefix` (with bos where the tokenizer adds one).
    pub tokens: Vec<u32>,
    /// One-row cache holding those tokens; empty when the prefix is (plain prompt, no persona).
    pub cache: Cache,
    /// The same keys and values per block of [`PREFIX_BLOCK`] tokens, for a later prefix to
    /// reuse; empty for prefixes extended by a task's shared start.
    blocks: Vec<Cache>,
    /// Tokens that went through the model to build this prefix (reused blocks not counted).
    pub computed: usize,
    /// The last extension of this prefix ([`Self::extended`]), shared by its clones: the runner
    /// asks a group's items a batch at a time, and every batch of a task starts with the same
    /// instructions, which then run once per group instead of once per batch.
    last_extension: Arc<Mutex<Option<PrefixState>>>,
}

impl PrefixState {
    pub fn new(model: &LoadedModel, persona: &str) -> Result<PrefixState> {
        PrefixState::reusing(model, persona, None)
    }

    /// The prefix of `persona`, reusing the blocks it shares with `earlier` (built on the same
    /// weights: the caller drops it when an adapter or a profile's offsets change them).
    pub fn reusing(
        model: &LoadedModel,
        persona: &str,
        earlier: Option<&PrefixState>,
    ) -> Result<PrefixState> {
        // The prefix does not depend on the task, so any task gives it.
        let prefix = model.prompt_parts(persona, "").prefix;
        let tokens = model.tokenizer.encode(&prefix, true)?;
        let num_layers = model.llama.new_cache().num_layers();
        let mut blocks: Vec<Cache> = Vec::new();
        let mut computed = 0;
        for (index, chunk) in tokens.chunks(PREFIX_BLOCK).enumerate() {
            let start = index * PREFIX_BLOCK;
            let end = start + chunk.len();
            let reusable = earlier
                .filter(|e| e.tokens.get(..end) == Some(&tokens[..end]))
                .and_then(|e| e.blocks.get(index))
                .filter(|block| block.len() == chunk.len());
            let block = match reusable {
                Some(block) => block.clone(),
                None => {
                    let mut cache = Cache::over_blocks(&blocks, num_layers)?;
                    let input = Input::from_tokens(chunk, start, model.device())?;
                    model
                        .llama
                        .forward_hidden(&input, Some(&mut cache), Mode::Inference)?;
                    computed += chunk.len();
                    cache.own_part()?
                }
            };
            blocks.push(block);
        }
        Ok(PrefixState {
            persona: persona.to_string(),
            tokens,
            cache: Cache::join(&blocks, num_layers)?,
            blocks,
            computed,
            last_extension: Arc::default(),
        })
    }

    /// This prefix followed by `tokens`, run as one more step (the start every item of a task
    /// shares), or the same extension made before. The result is not split into blocks, so no
    /// later persona reuses it; `computed` counts only `tokens`, and 0 when it was made before.
    pub fn extended(&self, model: &LoadedModel, tokens: &[u32]) -> Result<PrefixState> {
        let mut last = self
            .last_extension
            .lock()
            .map_err(|_| Error::invalid("a prefix's extension was poisoned by a panic"))?;
        if let Some(made) = last.as_ref() {
            if made.tokens.get(self.len()..) == Some(tokens) {
                return Ok(PrefixState {
                    computed: 0,
                    ..made.clone()
                });
            }
        }
        let mut cache = self.batch_cache(model, 1)?;
        model.llama.forward_hidden(
            &Input::from_tokens(tokens, self.len(), model.device())?,
            Some(&mut cache),
            Mode::Inference,
        )?;
        let made = PrefixState {
            persona: self.persona.clone(),
            tokens: self.tokens.iter().chain(tokens).copied().collect(),
            cache,
            blocks: Vec::new(),
            computed: tokens.len(),
            last_extension: Arc::default(),
        };
        *last = Some(made.clone());
        Ok(made)
    }

    /// Number of prefix tokens: the position the rest of a prompt starts at.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Tokens of the rest of the prompt for `task` (after this prefix).
    pub fn rest_tokens(&self, model: &LoadedModel, task: &str) -> Result<Vec<u32>> {
        self.rest_tokens_answering(model, task, "")
    }

    /// [`Self::rest_tokens`] followed by the first words of the answer, written as the model's
    /// own answer would start (after a chat header, or after a space in a plain prompt).
    pub fn rest_tokens_answering(
        &self,
        model: &LoadedModel,
        task: &str,
        answer_start: &str,
    ) -> Result<Vec<u32>> {
        let mut rest = model.prompt_parts(&self.persona, task).rest;
        if !answer_start.trim().is_empty() {
            rest.push_str(&model.answer_surface(answer_start));
        }
        model.tokenizer.encode(&rest, false)
    }

    /// The prefix cache shared by `n` rows (a fresh cache when the prefix is empty). Even one
    /// row shares it, so the row's own steps never copy the prefix's keys and values.
    pub fn batch_cache(&self, model: &LoadedModel, n: usize) -> Result<Cache> {
        if self.is_empty() {
            Ok(model.llama.new_cache())
        } else {
            self.cache.share_batch(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::max_abs_diff;
    use crate::models::testing::tiny_model;
    use candle_core::Tensor;

    #[test]
    fn forked_prefix_cache_equals_recomputing_the_whole_prompt() {
        for chat in [false, true] {
            let model = tiny_model(chat, 3).unwrap();
            let prefix = PrefixState::new(&model, "I value tradition.").unwrap();
            for task in [
                "Do you agree? Answer:",
                "Another, longer task about 42 things. Answer:",
            ] {
                let rest = prefix.rest_tokens(&model, task).unwrap();
                let mut cache = prefix.cache.clone();
                let input = Input::from_tokens(&rest, prefix.len(), model.device()).unwrap();
                let forked = model.llama.forward_last(&input, Some(&mut cache)).unwrap();

                let full: Vec<u32> = prefix.tokens.iter().chain(&rest).copied().collect();
                let input = Input::from_tokens(&full, 0, model.device()).unwrap();
                let whole = model.llama.forward_last(&input, None).unwrap();
                assert!(max_abs_diff(&forked, &whole) < 1e-4);
                // The prefix cache itself is untouched by the fork.
                assert_eq!(prefix.cache.len(), prefix.len());
            }
        }
    }

    #[test]
    fn prefix_and_rest_tokens_equal_the_tokens_of_the_whole_prompt() {
        for chat in [false, true] {
            let model = tiny_model(chat, 3).unwrap();
            let prefix =
                PrefixState::new(&model, "Let's roleplay. Value Score: - Power: 3").unwrap();
            let task = "Statement: I like the 2 of them.\nAnswer:";
            let rest = prefix.rest_tokens(&model, task).unwrap();
            let joined: Vec<u32> = prefix.tokens.iter().chain(&rest).copied().collect();
            let whole = model
                .tokenizer
                .encode(&model.prompt_parts(&prefix.persona, task).full(), true)
                .unwrap();
            assert_eq!(joined, whole);
        }
    }

    /// Logits after `rest` on a fork of `prefix`'s cache.
    fn logits_after(model: &LoadedModel, prefix: &PrefixState, rest: &str) -> Tensor {
        let rest = prefix.rest_tokens(model, rest).unwrap();
        let mut cache = prefix.cache.clone();
        let input = Input::from_tokens(&rest, prefix.len(), model.device()).unwrap();
        model.llama.forward_last(&input, Some(&mut cache)).unwrap()
    }

    #[test]
    fn a_prefix_reuses_the_blocks_it_shares_and_answers_as_if_built_alone() {
        let model = tiny_model(true, 3).unwrap();
        // Byte-level tokens: the template alone is several blocks long.
        let template = "Value definitions that every group's persona starts with. ".repeat(5);
        let first = PrefixState::new(&model, &format!("{template}Power: 3.25")).unwrap();
        assert!(first.len() > PREFIX_BLOCK, "{}", first.len());
        assert_eq!(first.computed, first.len());

        let persona = format!("{template}Power: 5.5, Tradition: 2");
        let reused = PrefixState::reusing(&model, &persona, Some(&first)).unwrap();
        let alone = PrefixState::new(&model, &persona).unwrap();
        assert_eq!(reused.tokens, alone.tokens);
        assert_eq!(alone.computed, alone.len());
        // Only the blocks from the one holding "5.5" on ran again.
        let common = first
            .tokens
            .iter()
            .zip(&alone.tokens)
            .take_while(|(a, b)| a == b)
            .count();
        let first_new_block = common / PREFIX_BLOCK;
        assert_eq!(
            reused.computed,
            alone.len() - first_new_block * PREFIX_BLOCK
        );
        assert!(reused.computed < alone.len() / 2);

        // Reused blocks equal recomputed ones bit for bit: answers do not depend on the group
        // that ran before.
        let task = "Statement: I like it. Answer:";
        let a = logits_after(&model, &reused, task);
        let b = logits_after(&model, &alone, task);
        assert_eq!(max_abs_diff(&a, &b), 0.0);
        // And the prefix built in blocks answers as the whole prompt run in one step does.
        let rest = alone.rest_tokens(&model, task).unwrap();
        let full: Vec<u32> = alone.tokens.iter().chain(&rest).copied().collect();
        let input = Input::from_tokens(&full, 0, model.device()).unwrap();
        let whole = model.llama.forward_last(&input, None).unwrap();
        assert!(max_abs_diff(&a, &whole) < 1e-4);
    }

    #[test]
    fn a_block_is_reused_only_when_it_is_whole_and_everything_before_it_is_the_same() {
        let model = tiny_model(true, 3).unwrap();
        let long = "A persona that goes on for a good while, block after block. ".repeat(6);
        let first = PrefixState::new(&model, &long).unwrap();
        // A persona that is the first one cut short ends inside a block the first one holds
        // longer: that block runs again, the whole ones before it are reused.
        let cut = &long[..long.len() - 32];
        let shorter = PrefixState::reusing(&model, cut, Some(&first)).unwrap();
        assert!(shorter.len() > PREFIX_BLOCK && shorter.computed > 0);
        assert_eq!(shorter.computed, shorter.len() % PREFIX_BLOCK);
        let task = "Answer:";
        let alone = PrefixState::new(&model, cut).unwrap();
        assert_eq!(
            max_abs_diff(
                &logits_after(&model, &shorter, task),
                &logits_after(&model, &alone, task)
            ),
            0.0
        );
        // A persona that differs from the first token on reuses nothing.
        let other = PrefixState::reusing(&model, &format!("X{long}"), Some(&first)).unwrap();
        assert_eq!(other.computed, other.len());
    }

    #[test]
    fn an_extension_made_before_is_reused_and_a_different_one_runs() {
        let model = tiny_model(true, 3).unwrap();
        let prefix = PrefixState::new(&model, "A persona.").unwrap();
        let instructions = prefix.rest_tokens(&model, "Indicate whether").unwrap();
        let first = prefix.extended(&model, &instructions).unwrap();
        assert_eq!(first.computed, instructions.len());
        // A clone of the prefix (the next batch of the same group) finds it made.
        let again = prefix.clone().extended(&model, &instructions).unwrap();
        assert_eq!(again.computed, 0);
        assert_eq!(again.tokens, first.tokens);
        let task = "Statement: it. Answer:";
        assert_eq!(
            max_abs_diff(
                &logits_after(&model, &again, task),
                &logits_after(&model, &first, task)
            ),
            0.0
        );
        let other = prefix.extended(&model, &instructions[1..]).unwrap();
        assert_eq!(other.computed, instructions.len() - 1);
        assert_eq!(other.len(), prefix.len() + instructions.len() - 1);
    }

    #[test]
    fn batch_cache_shares_the_prefix_with_every_row() {
        let model = tiny_model(true, 3).unwrap();
        let prefix = PrefixState::new(&model, "p").unwrap();
        let cache = prefix.batch_cache(&model, 3).unwrap();
        assert_eq!(cache.batch_size(), Some(3));
        assert_eq!(cache.len(), prefix.len());
        let empty = PrefixState::new(&tiny_model(false, 3).unwrap(), "").unwrap();
        assert!(empty.is_empty());
    }
}
