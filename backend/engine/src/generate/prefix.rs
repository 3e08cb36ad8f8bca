//! A persona's prompt prefix, encoded once: its tokens and the KV cache after them. Scoring
//! and generation fork the cache (cloning shares the tensors) for every item or batch, so an
//! evaluation runs each group's persona through the model exactly once.

use crate::models::{Cache, Input, LoadedModel, Mode};
use crate::Result;

#[derive(Clone)]
pub struct PrefixState {
    pub persona: String,
    /// Tokens of `prompt_parts(persona, _).prefix` (with bos where the tokenizer adds one).
    pub tokens: Vec<u32>,
    /// One-row cache holding those tokens; empty when the prefix is (plain prompt, no persona).
    pub cache: Cache,
}

impl PrefixState {
    pub fn new(model: &LoadedModel, persona: &str) -> Result<PrefixState> {
        // The prefix does not depend on the task, so any task gives it.
        let prefix = model.prompt_parts(persona, "").prefix;
        let tokens = model.tokenizer.encode(&prefix, true)?;
        let mut cache = model.llama.new_cache();
        if !tokens.is_empty() {
            let input = Input::from_tokens(&tokens, 0, model.device())?;
            model
                .llama
                .forward_hidden(&input, Some(&mut cache), Mode::Inference)?;
        }
        Ok(PrefixState {
            persona: persona.to_string(),
            tokens,
            cache,
        })
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
