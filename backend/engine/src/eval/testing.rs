//! A deterministic stand-in for a model, for tests only: it "follows" a persona perfectly. For
//! an item whose prompt names a value, it reads that value's score from a Table 22/23 persona
//! and puts its probability on the two options around the score's position on the item's scale,
//! so the expected answer equals the score exactly; without a persona (or a value) it answers
//! uniformly. Sampling returns canned texts in turn.

use super::answerer::{Answerer, ChoiceItem, GenerationConfig};
use crate::Result;
use valuelab_common::{Value, ALL_VALUES};

#[derive(Debug, Default)]
pub struct PersonaFollower {
    /// Items scored so far (counts resumed work).
    pub items_scored: usize,
    /// The prompt of every item scored, in the order asked.
    pub prompts_scored: Vec<String>,
    pub generate_calls: usize,
    /// The answer start of every `generate` call, in order.
    pub answer_starts: Vec<String>,
    /// Texts `generate` returns, cycled.
    pub canned: Vec<String>,
    next_canned: usize,
}

impl PersonaFollower {
    pub fn with_canned(texts: &[&str]) -> Self {
        PersonaFollower {
            canned: texts.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// The score the persona gives `value` ("- Achievement: 4.65"; Tables 22/23 spell
/// "Self-Direction").
pub fn persona_score(persona: &str, value: Value) -> Option<f64> {
    let label = if value == Value::SelfDirection {
        "Self-Direction"
    } else {
        value.name()
    };
    persona.lines().find_map(|l| {
        l.strip_prefix(&format!("- {label}: "))
            .and_then(|s| s.trim().parse().ok())
    })
}

/// The first value named in a prompt.
fn named_value(prompt: &str) -> Option<Value> {
    ALL_VALUES
        .iter()
        .copied()
        .find(|v| prompt.contains(v.name()))
}

/// Probabilities whose expectation over positions 0..n−1 is `t` (0 ≤ t ≤ n − 1).
fn around(n: usize, t: f64) -> Vec<f64> {
    let mut p = vec![0.0; n];
    let low = t.floor() as usize;
    let frac = t - low as f64;
    p[low] += 1.0 - frac;
    if frac > 0.0 {
        p[low + 1] += frac;
    }
    p
}

impl Answerer for PersonaFollower {
    fn option_probabilities(
        &mut self,
        persona: &str,
        items: &[ChoiceItem],
    ) -> Result<Vec<Vec<f64>>> {
        self.items_scored += items.len();
        self.prompts_scored
            .extend(items.iter().map(|item| item.prompt.clone()));
        Ok(items
            .iter()
            .map(|item| {
                let n = item.options.len();
                match named_value(&item.prompt).and_then(|v| persona_score(persona, v)) {
                    Some(score) => around(n, (score - 1.0) / 5.0 * (n - 1) as f64),
                    None => vec![1.0 / n as f64; n],
                }
            })
            .collect())
    }

    fn generate(
        &mut self,
        _persona: &str,
        prompts: &[String],
        _subjects: &[String],
        cfg: &GenerationConfig,
    ) -> Result<Vec<String>> {
        self.generate_calls += 1;
        self.answer_starts.push(cfg.answer_start.clone());
        Ok(prompts
            .iter()
            .map(|_| {
                let text = self
                    .canned
                    .get(self.next_canned % self.canned.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                self.next_canned += 1;
                text
            })
            .collect())
    }

    fn name(&self) -> String {
        "persona-follower".to_string()
    }

    fn tokens_processed(&self) -> u64 {
        self.items_scored as u64 * 10
    }
}
