//! Answer modes: `expect` (the expected answer from option probabilities, valuelab's default)
//! and `sample` (the paper's protocol: sampled answers parsed and averaged). A sampled answer is
//! either read on the item's scale, recognised as a refusal, or counted as a parse failure;
//! it is never guessed.

use super::task::TaskItem;
use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// Every task runs in either mode; `expect` unless asked (argument generation chooses its stance
/// by likelihood in `expect` mode, see `argument_generation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    #[default]
    Expect,
    Sample,
}

impl AnswerMode {
    pub fn name(self) -> &'static str {
        match self {
            AnswerMode::Expect => "expect",
            AnswerMode::Sample => "sample",
        }
    }
}

impl PartialEq<&str> for AnswerMode {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl fmt::Display for AnswerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AnswerMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "expect" => Ok(AnswerMode::Expect),
            "sample" => Ok(AnswerMode::Sample),
            other => Err(Error::invalid(format!(
                "unknown answer mode '{other}' (expected expect or sample)"
            ))),
        }
    }
}

/// Phrases that mark a refusal or a model speaking about itself instead of answering, matched
/// case-insensitively on the whole generation.
pub const REFUSAL_MARKERS: [&str; 14] = [
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm not able",
    "as an ai",
    "as a language model",
    "as an artificial intelligence",
    "i don't have personal",
    "i do not have personal",
    "i'm sorry",
    "i am sorry",
];

/// Whether a generation refuses to answer.
pub fn is_refusal(text: &str) -> bool {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    REFUSAL_MARKERS.iter().any(|m| lower.contains(m))
}

/// What became of the samples of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledAnswer {
    /// Mean of the parsed samples' answers on 0..1; `None` when no sample could be read.
    pub answer: Option<f64>,
    pub parse_failures: usize,
    pub refusals: usize,
}

/// Reads each sample on the item's scale: a refusal is counted as such (even if it happens to
/// mention a number), an unreadable answer as a parse failure.
pub fn read_samples(item: &TaskItem, samples: &[String]) -> SampledAnswer {
    let mut values = Vec::new();
    let (mut parse_failures, mut refusals) = (0, 0);
    for text in samples {
        if is_refusal(text) {
            refusals += 1;
            continue;
        }
        match item.parser.as_ref().map(|p| p.parse_answer(text)) {
            Some(Ok(index)) if index < item.option_values.len() => {
                values.push(item.option_values[index])
            }
            _ => parse_failures += 1,
        }
    }
    let answer = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    SampledAnswer {
        answer,
        parse_failures,
        refusals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::scale::AnswerScale;

    fn pvq_like_item() -> TaskItem {
        let scale = AnswerScale::parse("Not like me at all|Not like me|A little like me|Somewhat like me|Like me|Very much like me").unwrap();
        TaskItem {
            id: "1".into(),
            key: 0,
            prompt: "p".into(),
            options: (1..=6).map(|k| k.to_string()).collect(),
            option_values: (0..6).map(|i| i as f64 / 5.0).collect(),
            parser: Some(scale),
            subject: "s".into(),
        }
    }

    #[test]
    fn samples_are_averaged_and_failures_and_refusals_counted_apart() {
        let samples: Vec<String> = [
            " 4",
            "Like me",
            "As an AI, I cannot rate myself from 1 to 6.",
            "I'm sorry, but I can't answer that.",
            "banana",
            "3 or 5",
        ]
        .map(String::from)
        .to_vec();
        let read = read_samples(&pvq_like_item(), &samples);
        assert_eq!(read.refusals, 2);
        assert_eq!(read.parse_failures, 2);
        // "4" → (4 − 1)/5 = 0.6, "Like me" → 5 → 0.8: mean 0.7.
        assert!((read.answer.unwrap() - 0.7).abs() < 1e-12);
    }

    #[test]
    fn an_item_with_no_readable_sample_has_no_answer() {
        let read = read_samples(
            &pvq_like_item(),
            &["I can't say.".to_string(), "hmm".to_string()],
        );
        assert_eq!(
            read,
            SampledAnswer {
                answer: None,
                parse_failures: 1,
                refusals: 1
            }
        );
    }

    #[test]
    fn answer_modes_parse_and_name_the_valid_ones() {
        assert_eq!("sample".parse::<AnswerMode>().unwrap(), AnswerMode::Sample);
        assert!("greedy"
            .parse::<AnswerMode>()
            .unwrap_err()
            .to_string()
            .contains("expect or sample"));
    }
}
