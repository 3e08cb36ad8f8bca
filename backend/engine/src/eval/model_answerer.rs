//! The real [`Answerer`]: a loaded Llama-family model (`engine::models`) answering through
//! `engine::generate`. Each persona's prompt prefix is encoded once and its KV cache reused for
//! every item of the group (the runner asks one group at a time), and the next group's persona
//! reuses the blocks of it that start the same way; option scoring and generation batch across
//! items.
//!
//! VIM methods bring one LoRA adapter per group (found by `adapter::find`). Adapters are merged into the weights for speed, so switching groups reloads the base model.
//! Profile conditioners (`profile-offset`, `steer`) set residual offsets for each group's
//! profile instead; the persona prefix is then encoded again under the new offsets. A relevance
//! readout (`profile-readout --relevance-layer`) moves each item by its own amount: the
//! relevance of its prompt or subject is read once (and kept across profiles); scoring moves
//! each item's answer states by its amount inside the usual batches (`generate::ItemShifts`),
//! and generation runs all prompts as one batch under a readout with one shift per row.

use super::answerer::{Answerer, ChoiceItem, GenerationConfig};
use crate::adapter;
use crate::conditioning::relevance::text_of;
use crate::conditioning::ProfileConditioner;
use crate::generate::{
    generate_with_prefix, score_items_shifted, ItemShifts, Normalisation, PrefixState,
};
use crate::models::{load_model, LoadedModel};
use crate::{Error, Field, Result};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;
use valuelab_common::VALUE_COUNT;

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
    /// The profile `condition_on` set last.
    profile: Option<[f64; VALUE_COUNT]>,
    /// A relevance readout's value relevance of each text it read (an item's prompt or subject;
    /// it does not depend on the profile).
    relevance: HashMap<String, Vec<f32>>,
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
            profile: None,
            relevance: HashMap::new(),
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

    /// The prefix [`Self::prefix`] encoded last.
    fn encoded_prefix(&self) -> Result<&PrefixState> {
        self.prefix
            .as_ref()
            .ok_or_else(|| Error::invalid("prefix cache missing"))
    }

    /// With a relevance readout and a profile: the relevance (items, 10) of items given as
    /// (prompt, subject), each read from the text the readout reads, once.
    fn item_relevance<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Option<Tensor>> {
        let Some(conditioner) = self.conditioner.as_ref() else {
            return Ok(None);
        };
        if !conditioner.needs_item_relevance() || self.profile.is_none() {
            return Ok(None);
        }
        let read = conditioner.relevance_text();
        let texts: Vec<String> = items
            .map(|(prompt, subject)| Ok(text_of(prompt, subject, read)?.to_string()))
            .collect::<Result<_>>()?;
        let mut missing: Vec<String> = texts
            .iter()
            .filter(|t| !self.relevance.contains_key(*t))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            let rows = conditioner
                .relevance_of(&self.model, &missing)?
                .ok_or_else(|| Error::invalid("the relevance readout gave no relevance"))?;
            for (text, row) in missing.iter().zip(rows.to_vec2::<f32>()?) {
                self.tokens += self.model.tokenizer.encode(text, true)?.len() as u64;
                self.relevance.insert(text.clone(), row);
            }
        }
        let rows = texts
            .iter()
            .map(|t| {
                let row = self
                    .relevance
                    .get(t)
                    .ok_or_else(|| Error::invalid("an item's relevance went missing"))?;
                Ok(Tensor::new(row.as_slice(), &self.device)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Tensor::stack(&rows, 0)?))
    }

    /// With a relevance readout and a profile: each item's amount along the readout's
    /// direction, and that direction.
    fn item_shifts(&mut self, items: &[ChoiceItem]) -> Result<Option<(Vec<f32>, Tensor)>> {
        let texts = items
            .iter()
            .map(|i| (i.prompt.as_str(), i.subject.as_deref()));
        let Some(relevance) = self.item_relevance(texts)? else {
            return Ok(None);
        };
        let (Some(conditioner), Some(profile)) = (self.conditioner.as_ref(), self.profile) else {
            return Ok(None);
        };
        conditioner
            .item_shifts(&profile, &relevance)?
            .map(|(amounts, direction)| -> Result<_> {
                Ok((amounts.flatten_all()?.to_vec1::<f32>()?, direction))
            })
            .transpose()
    }

    /// Runs `all(model, prefix)` with the model's readout moving batch row `k` by item `k`'s
    /// relevance, then restores the profile's own offsets (on error too).
    fn with_row_shifts<T>(
        &mut self,
        relevance: &Tensor,
        all: impl FnOnce(&LoadedModel, &PrefixState) -> Result<T>,
    ) -> Result<T> {
        let (Some(conditioner), Some(profile), Some(prefix)) = (
            self.conditioner.as_ref(),
            self.profile,
            self.prefix.as_ref(),
        ) else {
            return Err(Error::invalid(
                "item relevance needs a conditioner, a profile and an encoded prefix",
            ));
        };
        let result = conditioner
            .item_offsets(&profile, relevance)
            .and_then(|offsets| self.model.llama.set_residual_offsets(offsets))
            .and_then(|()| all(&self.model, prefix));
        self.model
            .llama
            .set_residual_offsets(conditioner.offsets(&[profile])?)?;
        result
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
            let shifts = self.item_shifts(&new)?;
            let shifts = shifts
                .as_ref()
                .map(|(amounts, direction)| ItemShifts { amounts, direction });
            let scores =
                score_items_shifted(&self.model, self.encoded_prefix()?, &new, norm, shifts)?;
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
        subjects: &[String],
        cfg: &GenerationConfig,
    ) -> Result<Vec<String>> {
        if subjects.len() != prompts.len() {
            return Err(Error::invalid(format!(
                "{} subjects for {} prompts (an answerer bug)",
                subjects.len(),
                prompts.len()
            )));
        }
        self.count_rests(persona, prompts.iter().cloned())?;
        self.prefix(persona)?;
        let texts = (prompts.iter().zip(subjects)).map(|(p, s)| (p.as_str(), Some(s.as_str())));
        let generations = match self.item_relevance(texts)? {
            Some(relevance) => self.with_row_shifts(&relevance, |model, prefix| {
                generate_with_prefix(model, prefix, prompts, cfg)
            })?,
            None => generate_with_prefix(&self.model, self.encoded_prefix()?, prompts, cfg)?,
        };
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
        self.profile = Some(*profile.scores());
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
    use crate::conditioning::RelevanceText;
    use crate::models::testing::tiny_model;

    #[test]
    fn a_tiny_model_scores_options_into_probabilities_and_counts_tokens() {
        let model = tiny_model(true, 3).unwrap();
        let mut answerer = ModelAnswerer::from_model(model, "tiny", &Device::Cpu, HashMap::new());
        let items = vec![
            ChoiceItem {
                prompt: "Pick one. Answer:".into(),
                options: (1..=6).map(|k| k.to_string()).collect(),
                subject: None,
            },
            ChoiceItem {
                prompt: "Agree? Answer:".into(),
                options: vec!["I agree".into(), "I disagree".into()],
                subject: None,
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
                &vec!["hi".to_string(); 2],
                &crate::eval::answerer::paper_sampling(1, 3),
            )
            .unwrap();
        assert_eq!(texts.len(), 2);
        assert!(answerer.tokens_processed() > before);
    }

    /// The plain tiny model's answers with `offsets` set by hand.
    fn answered_under(
        offsets: crate::models::ResidualOffsets,
        persona: &str,
        items: &[ChoiceItem],
    ) -> Vec<Vec<f64>> {
        let mut by_hand = ModelAnswerer::from_model(
            tiny_model(true, 3).unwrap(),
            "tiny",
            &Device::Cpu,
            HashMap::new(),
        );
        by_hand.model.llama.set_residual_offsets(offsets).unwrap();
        by_hand.option_probabilities(persona, items).unwrap()
    }

    /// A relevance readout on a tiny model: a probe fit on random states, a strong direction.
    fn relevance_conditioner(hidden: usize, read: RelevanceText) -> ProfileConditioner {
        use crate::conditioning::relevance::{ProbeTraining, ValueProbe};
        use crate::conditioning::ConditionerConfig;
        let rows = 20;
        let features: Vec<f32> = (0..rows * hidden)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let features = Tensor::from_vec(features, (rows, hidden), &Device::Cpu).unwrap();
        let labels: Vec<f32> = (0..rows * VALUE_COUNT)
            .map(|k| {
                if k % VALUE_COUNT == (k / VALUE_COUNT) % VALUE_COUNT {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let labels = Tensor::from_vec(labels, (rows, VALUE_COUNT), &Device::Cpu).unwrap();
        let probe = ValueProbe::fit(1, &features, &labels, &ProbeTraining::default()).unwrap();
        let direction: Vec<f32> = (0..hidden).map(|k| ((k % 5) as f32 - 2.0) * 2.0).collect();
        let direction = Tensor::from_vec(direction, (1, hidden), &Device::Cpu).unwrap();
        let config = ConditionerConfig::profile_readout("tiny", hidden, [3.5; VALUE_COUNT]);
        ProfileConditioner::new(config, Vec::new())
            .unwrap()
            .with_relevance(probe, read, direction)
            .unwrap()
    }

    #[test]
    fn a_relevance_readout_moves_each_item_by_its_own_relevance_and_the_mean_profile_not_at_all() {
        use valuelab_common::ValueDistribution;
        let items: Vec<ChoiceItem> = [
            "Statement: I like art. Answer:",
            "Statement: I obey. Answer:",
        ]
        .iter()
        .map(|p| ChoiceItem {
            prompt: p.to_string(),
            options: (1..=6).map(|k| k.to_string()).collect(),
            subject: None,
        })
        .collect();
        let persona = "Let's roleplay.";
        let mut plain = ModelAnswerer::from_model(
            tiny_model(true, 3).unwrap(),
            "tiny",
            &Device::Cpu,
            HashMap::new(),
        );
        let expected = plain.option_probabilities(persona, &items).unwrap();
        let hidden = plain.model().llama.config().hidden_size;
        let conditioner = relevance_conditioner(hidden, RelevanceText::Prompt);
        let mut answerer = ModelAnswerer::from_model(
            tiny_model(true, 3).unwrap(),
            "tiny",
            &Device::Cpu,
            HashMap::new(),
        )
        .with_conditioner(conditioner.clone());
        answerer
            .condition_on(&ValueDistribution::parse([3.5; VALUE_COUNT]).unwrap())
            .unwrap();
        // Items are scored one at a time here and batched in the plain model: equal up to
        // float noise.
        let close = |a: &[Vec<f64>], b: &[Vec<f64>]| {
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .all(|(x, y)| (x - y).abs() < 1e-6)
        };
        let mean = answerer.option_probabilities(persona, &items).unwrap();
        assert!(close(&mean, &expected), "{mean:?} vs {expected:?}");

        let mut scores = [2.0; VALUE_COUNT];
        scores[0] = 6.0;
        scores[7] = 5.5;
        let profile = ValueDistribution::parse(scores).unwrap();
        answerer.condition_on(&profile).unwrap();
        let together = answerer.option_probabilities(persona, &items).unwrap();
        assert!(
            !close(&together, &expected),
            "a profile away from the mean moves the answers"
        );
        // Each item is moved by its own relevance: answered alone, it gets the same answer.
        answerer.condition_on(&profile).unwrap();
        let alone = answerer.option_probabilities(persona, &items[1..]).unwrap();
        assert!(close(&alone, &together[1..]), "{alone:?} vs {together:?}");
        // ...and by exactly its shift: the model with the item's offsets set by hand agrees.
        let relevance = conditioner
            .relevance_of(answerer.model(), &[items[0].prompt.clone()])
            .unwrap()
            .unwrap();
        let offsets = conditioner
            .item_offsets(profile.scores(), &relevance)
            .unwrap();
        let manual = answered_under(offsets, persona, &items[..1]);
        assert!(close(&manual, &together[..1]), "{manual:?} vs {together:?}");
        let prompts = [items[0].prompt.clone(), items[1].prompt.clone()];
        let texts = answerer
            .generate(
                persona,
                &prompts,
                &prompts,
                &crate::eval::answerer::paper_sampling(1, 3),
            )
            .unwrap();
        assert_eq!(texts.len(), 2);
        assert!(
            answerer.model().llama.residual_offsets().is_empty(),
            "the profile's own offsets are back after the items (none for a relevance readout)"
        );
    }

    #[test]
    fn a_readout_reading_subjects_moves_each_item_by_its_subjects_relevance_and_needs_one() {
        use valuelab_common::ValueDistribution;
        let persona = "Let's roleplay.";
        let item = |prompt: &str, subject: Option<&str>| ChoiceItem {
            prompt: prompt.to_string(),
            options: (1..=6).map(|k| k.to_string()).collect(),
            subject: subject.map(String::from),
        };
        let model = tiny_model(true, 3).unwrap();
        let hidden = model.llama.config().hidden_size;
        let conditioner = relevance_conditioner(hidden, RelevanceText::Subject);
        let mut answerer = ModelAnswerer::from_model(model, "tiny", &Device::Cpu, HashMap::new())
            .with_conditioner(conditioner.clone());
        let mut scores = [2.0; VALUE_COUNT];
        scores[3] = 6.0;
        let profile = ValueDistribution::parse(scores).unwrap();
        answerer.condition_on(&profile).unwrap();
        let art = item("Statement: I like art. Answer:", Some("I like art"));
        let answered = answerer
            .option_probabilities(persona, std::slice::from_ref(&art))
            .unwrap();
        let by_relevance_of = |text: &str| {
            let relevance = conditioner
                .relevance_of(answerer.model(), &[text.to_string()])
                .unwrap()
                .unwrap();
            let offsets = conditioner
                .item_offsets(profile.scores(), &relevance)
                .unwrap();
            answered_under(offsets, persona, std::slice::from_ref(&art))
        };
        let gap = |a: &[Vec<f64>], b: &[Vec<f64>]| {
            (a[0].iter().zip(&b[0]))
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max)
        };
        let subject = by_relevance_of("I like art");
        assert!(
            gap(&answered, &subject) < 1e-6,
            "{answered:?} vs {subject:?}"
        );
        let prompt = by_relevance_of(&art.prompt);
        assert!(
            gap(&answered, &prompt) > 1e-4,
            "the prompt is not what it read"
        );

        let err = answerer
            .option_probabilities(persona, &[item("Obey? Answer:", None)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'Obey? Answer:' does not say") && err.contains("--relevance-text prompt"),
            "{err}"
        );
        let err = answerer
            .generate(
                persona,
                &["Say hi.".to_string()],
                &[],
                &crate::eval::answerer::paper_sampling(1, 3),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("0 subjects for 1 prompts"), "{err}");
    }
}
