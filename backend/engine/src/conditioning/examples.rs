//! Conditioning examples: (training profile, Touché argument, VIM task) triples drawn at random,
//! each turned into an item (Table 16's or 17's prompt) and its target distribution for that
//! profile. Only Touché arguments are used, so the PVQ-40 and ValueNet instruments stay unseen.

use super::branch::{branch_item, kl_loss, option_log_probs, BranchItem};
use super::conditioner::ProfileConditioner;
use super::targets::{ag_target, qa_target};
use crate::data::touche::Argument;
use crate::generate::{ChoiceItem, PrefixState};
use crate::models::{LoadedModel, Mode, ResidualOffsets};
use crate::vim::{ag, qa, Rule, Task};
use crate::{Error, Result};
use candle_core::Tensor;
use rand::Rng;
use std::collections::HashMap;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    pub profile: usize,
    pub argument: usize,
    pub task: Task,
}

/// The item of an argument for a task: QA answers "1".."6", AG says or does not say it. Both
/// are about the argument's premise, the text its value labels describe.
pub fn choice_item(argument: &Argument, task: Task) -> ChoiceItem {
    let subject = Some(argument.premise.trim().to_string());
    match task {
        Task::Qa => ChoiceItem {
            prompt: qa::qa_prompt(argument),
            options: (1..=6).map(|k| k.to_string()).collect(),
            subject,
        },
        Task::Ag => ChoiceItem {
            prompt: ag::ag_prompt(argument),
            options: vec![
                ag::ag_answer(argument, true),
                ag::ag_answer(argument, false),
            ],
            subject,
        },
    }
}

/// Arguments and how AG labels them, with each (argument, task) tokenised once.
pub struct ExampleSet {
    pub arguments: Vec<Argument>,
    pub rule: Rule,
    pub threshold: f64,
    prefix: PrefixState,
    tokenised: HashMap<(usize, Task), BranchItem>,
}

impl ExampleSet {
    /// Keeps the arguments that express at least one value (the others have no target).
    pub fn new(
        model: &LoadedModel,
        arguments: Vec<Argument>,
        rule: Rule,
        threshold: f64,
    ) -> Result<Self> {
        let arguments: Vec<Argument> = arguments.into_iter().filter(Argument::has_values).collect();
        if arguments.is_empty() {
            return Err(Error::invalid(
                "no argument expresses a value: conditioning has nothing to learn from",
            ));
        }
        let prefix = PrefixState::new(model, "")?;
        Ok(Self {
            arguments,
            rule,
            threshold,
            prefix,
            tokenised: HashMap::new(),
        })
    }

    /// `count` examples over `profiles` profiles, QA and AG equally often.
    pub fn draw(&self, profiles: usize, count: usize, rng: &mut impl Rng) -> Vec<Example> {
        (0..count)
            .map(|_| Example {
                profile: rng.random_range(0..profiles),
                argument: rng.random_range(0..self.arguments.len()),
                task: if rng.random_bool(0.5) {
                    Task::Qa
                } else {
                    Task::Ag
                },
            })
            .collect()
    }

    pub fn target(&self, example: &Example, profile: &ValueDistribution) -> Result<Vec<f64>> {
        let argument = &self.arguments[example.argument];
        match example.task {
            Task::Qa => qa_target(argument, profile),
            Task::Ag => ag_target(argument, profile, self.rule, self.threshold),
        }
        .ok_or_else(|| Error::invalid("an argument without values reached conditioning"))
    }

    /// The example's item, tokenised once.
    pub fn item(&mut self, model: &LoadedModel, example: &Example) -> Result<BranchItem> {
        let key = (example.argument, example.task);
        if let Some(item) = self.tokenised.get(&key) {
            return Ok(item.clone());
        }
        let item = branch_item(
            model,
            &self.prefix,
            &choice_item(&self.arguments[example.argument], example.task),
        )?;
        self.tokenised.insert(key, item.clone());
        Ok(item)
    }

    /// The batch's mean KL to its targets, differentiable when `mode` is Training, with each
    /// row conditioned on its own profile by `conditioner` (None: the plain model); and the
    /// number of tokens it ran.
    pub fn batch_loss(
        &mut self,
        model: &mut LoadedModel,
        conditioner: Option<&ProfileConditioner>,
        profiles: &[ValueDistribution],
        batch: &[Example],
        mode: Mode,
    ) -> Result<(Tensor, usize)> {
        let items = batch
            .iter()
            .map(|e| self.item(model, e))
            .collect::<Result<Vec<_>>>()?;
        let tokens = items.iter().map(|i| i.tokens.len()).sum();
        let targets = batch
            .iter()
            .map(|e| self.target(e, &profiles[e.profile]))
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<[f64; VALUE_COUNT]> = batch
            .iter()
            .map(|e| *profiles[e.profile].scores())
            .collect();
        let offsets = match conditioner {
            Some(c) => c.offsets(&rows)?,
            None => ResidualOffsets::default(),
        };
        model.llama.set_residual_offsets(offsets)?;
        let log_probs = option_log_probs(model, &items, mode);
        model
            .llama
            .set_residual_offsets(ResidualOffsets::default())?;
        Ok((kl_loss(&log_probs?, &targets)?, tokens))
    }

    /// Mean KL over `examples` in batches of `batch_size` (no gradients).
    pub fn mean_kl(
        &mut self,
        model: &mut LoadedModel,
        conditioner: Option<&ProfileConditioner>,
        profiles: &[ValueDistribution],
        examples: &[Example],
        batch_size: usize,
    ) -> Result<f64> {
        let mut total = 0.0;
        for batch in examples.chunks(batch_size.max(1)) {
            let (loss, _) =
                self.batch_loss(model, conditioner, profiles, batch, Mode::Inference)?;
            total += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
        }
        Ok(total / examples.len().max(1) as f64)
    }
}
