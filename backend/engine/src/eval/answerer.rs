//! The model boundary of the evaluation: everything the runner asks of a model. The real
//! implementation is `model_answerer::ModelAnswerer`; the runner's tests use a deterministic
//! double, so the scoring and resume logic is tested without a model. Items and sampling
//! settings are `engine::generate`'s own types.

use crate::Result;

pub use crate::generate::{ChoiceItem, GenerationConfig};

/// The paper's sampling (temperature 1, top-p 0.5, §4) with a seed and a token budget.
pub fn paper_sampling(seed: u64, max_new_tokens: usize) -> GenerationConfig {
    GenerationConfig {
        seed,
        max_new_tokens,
        ..GenerationConfig::default()
    }
}

pub trait Answerer {
    /// For each item, the probability of each option given `persona` and the item's prompt,
    /// normalised over the item's options.
    fn option_probabilities(
        &mut self,
        persona: &str,
        items: &[ChoiceItem],
    ) -> Result<Vec<Vec<f64>>>;

    /// One generation per prompt, each answering the prompt under `persona`; rows of one call
    /// sample independently, so a prompt repeated N times gives N samples. `subjects` says what
    /// each prompt is about ([`ChoiceItem::subject`]), one per prompt.
    fn generate(
        &mut self,
        persona: &str,
        prompts: &[String],
        subjects: &[String],
        cfg: &GenerationConfig,
    ) -> Result<Vec<String>>;

    /// The model's name as recorded in `run.json` and `results.json`.
    fn name(&self) -> String;

    /// Switches to the adapter of `group` (VIM methods train one adapter per group); a no-op for
    /// answerers without per-group adapters.
    fn select_group(&mut self, _group: &str) -> Result<()> {
        Ok(())
    }

    /// Conditions the answers that follow on `profile` (profile conditioners); a no-op for
    /// answerers without one.
    fn condition_on(&mut self, _profile: &valuelab_common::ValueDistribution) -> Result<()> {
        Ok(())
    }

    /// Tokens the model processed so far (prompt and generated), for the speed in `run.json`.
    fn tokens_processed(&self) -> u64 {
        0
    }
}
