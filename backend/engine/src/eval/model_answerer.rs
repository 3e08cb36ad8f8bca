//! The real [`Answerer`]: a loaded Llama-family model (`engine::models`) answering through
//! `engine::generate`. Each persona's prompt prefix is encoded once and its KV cache reused for
//! every item of the group (the runner asks one group at a time), and the next group's persona
//! reuses the blocks of it that start the same way; option scoring and generation batch across
//! items.
//!
//! VIM methods bring one LoRA adapter per group (found by `adapter::find`). Adapters are merged into the weights for speed, so switching groups reloads the base model.
//! Profile conditioners (`profile-offset`, `steer`) set residual offsets for each group's
//! profile instead; the persona prefix is then encoded again under the new offsets.

use super::answerer::{Answerer, ChoiceItem, GenerationConfig};
use crate::adapter;
use crate::conditioning::ProfileConditioner;
use crate::generate::{generate_with_prefix, score_items_with_prefix, Normalisation, PrefixState};
use crate::models::{load_model, LoadedModel};
use crate::{Error, Field, Result};
use candle_core::Device;
use std::collections::HashMap;
use std::path::PathBuf;

pub struct ModelAnswerer {
    model: LoadedModel,
    spec: String,
    device: Device,
    norm: Normalisation,
    /// Adapter folder per group (VIM methods); empty for prompt methods.
    adapters: HashMap<String, PathBuf>,
    /// The adapter merged into `model` now, if any.
    current_adapter: Option<PathBuf>,
    prefix: Option<PrefixState>,
    /// Profile conditioning (`profile-offset`, `steer`), set per group by `condition_on`.
    conditioner: Option<ProfileConditioner>,
    /// Option probabilities already computed with the current weights, by persona, prompt and
    /// options: the value-blind `base` method asks every group the same items, and this answers
    /// all groups but the first without running the model.
    answered: HashMap<(String, String, Vec<String>), Vec<f64>>,
    tokens: u64,
}

impl ModelAnswerer {
    /// Loads `spec` (`smollm2`, a .gguf file or a Hugging Face directory) onto `device`.
    pub fn load(spec: &str, device: &Device, adapters: HashMap<String, PathBuf>) -> Result<Self> {
        let model = load_model(spec, device)?;
        Ok(Self::from_model(model, spec, device, adapters))
    }

    /// Wraps a model loaded elsewhere; switching adapters reloads it from `spec`.
    pub fn from_model(
        model: LoadedModel,
        spec: &str,
        device: &Device,
        adapters: HashMap<String, PathBuf>,
    ) -> Self {
        ModelAnswerer {
            model,
            spec: spec.to_string(),
            device: device.clone(),
            norm: Normalisation::default(),
            adapters,
            current_adapter: None,
            prefix: None,
            conditioner: None,
            answered: HashMap::new(),
            tokens: 0,
        }
    }

    /// How option probabilities are normalised (default: mean log-probability per token).
    pub fn with_normalisation(mut self, norm: Normalisation) -> Self {
        self.norm = norm;
        self
    }

    /// Answers for each profile through `conditioner` (see [`Answerer::condition_on`]).
    pub fn with_conditioner(mut self, conditioner: ProfileConditioner) -> Self {
        self.conditioner = Some(conditioner);
        self
    }

    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    /// The encoded prefix of `persona`, reused while the persona stays the same; a new persona
    /// reuses the blocks it starts with in common with the last one (a method's template).
    fn prefix(&mut self, persona: &str) -> Result<&PrefixState> {
        if self.prefix.as_ref().is_none_or(|p| p.persona != persona) {
            let state = PrefixState::reusing(&self.model, persona, self.prefix.as_ref())?;
            self.tokens += state.computed as u64;
            self.prefix = Some(state);
        }
        self.prefix
            .as_ref()
            .ok_or_else(|| Error::invalid("prefix cache missing after encoding"))
    }

    fn count_rests(&mut self, persona: &str, prompts: impl Iterator<Item = String>) -> Result<()> {
        for prompt in prompts {
            let rest = self.model.prompt_parts(persona, &prompt).rest;
            self.tokens += self.model.tokenizer.encode(&rest, false)?.len() as u64;
        }
        Ok(())
    }
}

impl Answerer for ModelAnswerer {
    fn option_probabilities(
        &mut self,
        persona: &str,
        items: &[ChoiceItem],
    ) -> Result<Vec<Vec<f64>>> {
        let key = |item: &ChoiceItem| {
            (
                persona.to_string(),
                item.prompt.clone(),
                item.options.clone(),
            )
        };
        let new: Vec<ChoiceItem> = items
            .iter()
            .filter(|item| !self.answered.contains_key(&key(item)))
            .cloned()
            .collect();
        if !new.is_empty() {
            self.count_rests(persona, new.iter().map(|i| i.prompt.clone()))?;
            let norm = self.norm;
            self.prefix(persona)?;
            let prefix = self
                .prefix
                .as_ref()
                .ok_or_else(|| Error::invalid("prefix cache missing"))?;
            let scores = score_items_with_prefix(&self.model, prefix, &new, norm)?;
            for (item, s) in new.iter().zip(scores) {
                self.answered.insert(key(item), s.probs);
            }
        }
        items
            .iter()
            .map(|item| {
                self.answered
                    .get(&key(item))
                    .cloned()
                    .ok_or_else(|| Error::invalid("an item's option probabilities went missing"))
            })
            .collect()
    }

    fn generate(
        &mut self,
        persona: &str,
        prompts: &[String],
        cfg: &GenerationConfig,
    ) -> Result<Vec<String>> {
        self.count_rests(persona, prompts.iter().cloned())?;
        self.prefix(persona)?;
        let prefix = self
            .prefix
            .as_ref()
            .ok_or_else(|| Error::invalid("prefix cache missing"))?;
        let generations = generate_with_prefix(&self.model, prefix, prompts, cfg)?;
        self.tokens += generations.iter().map(|g| g.tokens as u64).sum::<u64>();
        Ok(generations.into_iter().map(|g| g.text).collect())
    }

    fn name(&self) -> String {
        self.spec.clone()
    }

    fn select_group(&mut self, group: &str) -> Result<()> {
        if self.adapters.is_empty() {
            return Ok(());
        }
        let wanted = self.adapters.get(group).cloned().ok_or_else(|| {
            Error::input(
                Field::Adapter,
                format!("no adapter for group '{group}': give an adapter folder for it"),
            )
        })?;
        if self.current_adapter.as_ref() == Some(&wanted) {
            return Ok(());
        }
        if self.current_adapter.is_some() {
            // The previous group's adapter is merged into the weights: start from the base again.
            self.model = load_model(&self.spec, &self.device)?;
        }
        adapter::apply(&mut self.model, &wanted, true)?;
        self.current_adapter = Some(wanted);
        self.prefix = None;
        self.answered.clear();
        Ok(())
    }

    fn condition_on(&mut self, profile: &valuelab_common::ValueDistribution) -> Result<()> {
        let Some(conditioner) = &self.conditioner else {
            return Ok(());
        };
        let offsets = conditioner.offsets(&[*profile.scores()])?;
        self.model.llama.set_residual_offsets(offsets)?;
        // Cached prefixes and answers were computed under the previous profile.
        self.prefix = None;
        self.answered.clear();
        Ok(())
    }

    fn tokens_processed(&self) -> u64 {
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::tiny_model;

    #[test]
    fn a_tiny_model_scores_options_into_probabilities_and_counts_tokens() {
        let model = tiny_model(true, 3).unwrap();
        let mut answerer = ModelAnswerer::from_model(model, "tiny", &Device::Cpu, HashMap::new());
        let items = vec![
            ChoiceItem {
                prompt: "Pick one. Answer:".into(),
                options: (1..=6).map(|k| k.to_string()).collect(),
            },
            ChoiceItem {
                prompt: "Agree? Answer:".into(),
                options: vec!["I agree".into(), "I disagree".into()],
            },
        ];
        let probs = answerer
            .option_probabilities("Let's roleplay.", &items)
            .unwrap();
        assert_eq!(probs.len(), 2);
        assert_eq!(probs[0].len(), 6);
        for p in &probs {
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{p:?}");
        }
        assert!(answerer.tokens_processed() > 0);
        let before = answerer.tokens_processed();
        // The same questions under the same persona (the base method's other groups) are
        // answered again without running the model.
        let again = answerer
            .option_probabilities("Let's roleplay.", &items[1..])
            .unwrap();
        assert_eq!(again[0], probs[1]);
        assert_eq!(answerer.tokens_processed(), before);
        let texts = answerer
            .generate(
                "Let's roleplay.",
                &vec!["Say hi.".to_string(); 2],
                &crate::eval::answerer::paper_sampling(1, 3),
            )
            .unwrap();
        assert_eq!(texts.len(), 2);
        assert!(answerer.tokens_processed() > before);
    }
}
