//! Argument generation for one batch of conclusions (Table 19: a stance, then a premise for
//! it), in either protocol of `argument_generation`: the paper's sampled stance, or the stance
//! by likelihood with a premise that continues a lead-in stating it.

use super::{first, item_seed, RunSpec};
use crate::data::groups::TargetGroup;
use crate::data::touche::Stance;
use crate::eval::answer_mode::{is_refusal, AnswerMode};
use crate::eval::answerer::{paper_sampling, Answerer, ChoiceItem};
use crate::eval::argument_generation::{
    likeliest_stance, parse_stance, premise_lead_in, premise_prompt, stance_verb,
    PREMISE_MAX_TOKENS, STANCE_ANSWERS, STANCE_MAX_TOKENS,
};
use crate::eval::result::{ArgumentGeneration, ItemRecord};
use crate::eval::task::Task;
use crate::{Error, Result};

/// Fills `records` (one per index of `batch`) with the arguments generated for their items.
pub(super) fn generate(
    task: &Task,
    batch: &[usize],
    mut records: Vec<ItemRecord>,
    group: &TargetGroup,
    persona: &str,
    spec: &RunSpec,
    answerer: &mut dyn Answerer,
) -> Result<Vec<ItemRecord>> {
    let conclusion = |i: usize| task.items[i].subject.clone();
    let seed = |i: usize| item_seed(spec.seed, &group.name, &task.items[i].id);
    match spec.answer_mode {
        AnswerMode::Sample => {
            for (&i, record) in batch.iter().zip(&mut records) {
                let item = &task.items[i];
                let stance =
                    sampled_stance(&item.prompt, &item.subject, seed(i), persona, answerer)?;
                record.refusals += usize::from(stance.refused);
                record.parse_failures += usize::from(!stance.refused && stance.stance.is_none());
                let mut samples = vec![stance.text.clone()];
                let premise = match stance.stance {
                    Some(s) => {
                        let text = premise(&conclusion(i), s, None, seed(i), persona, answerer)?;
                        record.refusals += usize::from(is_refusal(&text));
                        samples.push(text.clone());
                        Some(text.trim().to_string())
                    }
                    None => None,
                };
                record.samples = Some(samples);
                record.generation = Some(ArgumentGeneration {
                    conclusion: conclusion(i),
                    method: spec.method_label(),
                    stance: stance.stance.map(|s| s.as_str().to_string()),
                    stance_text: stance.text,
                    premise,
                    premise_lead_in: None,
                });
            }
        }
        AnswerMode::Expect => {
            // All stances of the batch in one scoring call, as survey items are answered.
            let items: Vec<ChoiceItem> = batch
                .iter()
                .map(|&i| ChoiceItem {
                    prompt: task.items[i].prompt.clone(),
                    options: STANCE_ANSWERS.map(String::from).to_vec(),
                    subject: Some(task.items[i].subject.clone()),
                })
                .collect();
            let probabilities = answerer.option_probabilities(persona, &items)?;
            if probabilities.len() != batch.len() {
                return Err(Error::invalid(format!(
                    "the model scored {} of {} stances (an answerer bug)",
                    probabilities.len(),
                    batch.len()
                )));
            }
            for ((&i, record), probs) in batch.iter().zip(&mut records).zip(probabilities) {
                let stance = likeliest_stance(&probs);
                let lead_in = premise_lead_in(&conclusion(i), stance);
                let text = premise(
                    &conclusion(i),
                    stance,
                    Some(&lead_in),
                    seed(i),
                    persona,
                    answerer,
                )?;
                record.refusals += usize::from(is_refusal(&text));
                record.probs = Some(probs);
                record.samples = Some(vec![text.clone()]);
                record.generation = Some(ArgumentGeneration {
                    conclusion: conclusion(i),
                    method: spec.method_label(),
                    stance: Some(stance.as_str().to_string()),
                    stance_text: STANCE_ANSWERS[usize::from(stance == Stance::Against)].to_string(),
                    premise: Some(text.trim().to_string()),
                    premise_lead_in: Some(lead_in),
                });
            }
        }
    }
    Ok(records)
}

struct SampledStance {
    text: String,
    stance: Option<Stance>,
    refused: bool,
}

/// Prompt 1 sampled and read; an unreadable stance gets no premise (nothing to explain).
fn sampled_stance(
    prompt: &str,
    subject: &str,
    seed: u64,
    persona: &str,
    answerer: &mut dyn Answerer,
) -> Result<SampledStance> {
    let cfg = paper_sampling(seed, STANCE_MAX_TOKENS);
    let text =
        first(answerer.generate(persona, &[prompt.to_string()], &[subject.to_string()], &cfg)?);
    let refused = is_refusal(&text);
    let stance = if refused { None } else { parse_stance(&text) };
    Ok(SampledStance {
        text,
        stance,
        refused,
    })
}

/// Prompt 2 for `stance`, sampled with the paper's settings up to the first blank line; with a
/// lead-in, the model continues it.
fn premise(
    conclusion: &str,
    stance: Stance,
    lead_in: Option<&str>,
    seed: u64,
    persona: &str,
    answerer: &mut dyn Answerer,
) -> Result<String> {
    let mut cfg = paper_sampling(seed.wrapping_add(1), PREMISE_MAX_TOKENS);
    cfg.stop = vec!["\n\n".to_string()];
    cfg.answer_start = lead_in.unwrap_or_default().to_string();
    let prompt = premise_prompt(conclusion, stance_verb(stance));
    Ok(first(answerer.generate(
        persona,
        &[prompt],
        &[conclusion.to_string()],
        &cfg,
    )?))
}
