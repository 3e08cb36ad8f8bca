//! Whether a generated argument is worth a human's time. A pairwise study wastes annotators on
//! pairs where one side says nothing: measured with the embedded 135M model, stances such as
//! "I'm not sure." and premises such as "This person is an alien." (issue 8). Each check here
//! names what is wrong so a study can say why it left a pair out. Heuristics, kept simple and
//! conservative: they catch the empty, the looping, the parroted and the unrelated, not the weak.

use super::argument_generation::premise_prompt;
use super::result::ArgumentGeneration;
use std::collections::HashSet;

/// Fewer words than this is no premise ("Yes.", "Because.").
pub const MIN_PREMISE_WORDS: usize = 4;
/// Share of repeated word trigrams above which a premise loops on itself.
pub const MAX_REPEATED_TRIGRAM_SHARE: f64 = 0.5;
/// Words this short never count as content shared with the conclusion.
const MIN_CONTENT_WORD_CHARS: usize = 4;
/// Content words are compared on this many leading characters, a crude stem ("uniforms" and
/// "uniform" match).
const STEM_CHARS: usize = 5;
/// Common words of four letters or more that say nothing about a topic.
const STOP_WORDS: [&str; 24] = [
    "about", "also", "because", "been", "being", "could", "does", "from", "have", "into", "just",
    "more", "most", "should", "some", "such", "than", "that", "their", "them", "there", "they",
    "this", "with",
];

/// Why an argument cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    NoStance,
    NoPremise,
    TooShort,
    Repeated,
    EchoesPrompt,
    OffTopic,
}

impl Flaw {
    pub fn describe(self) -> &'static str {
        match self {
            Flaw::NoStance => "no stance could be read from the generation",
            Flaw::NoPremise => "the premise is empty",
            Flaw::TooShort => "the premise is too short to judge",
            Flaw::Repeated => "the premise repeats itself",
            Flaw::EchoesPrompt => "the premise repeats the prompt",
            Flaw::OffTopic => "the premise shares no content word with the conclusion",
        }
    }
}

/// The first flaw of a generated argument, or `None` when it can be judged.
pub fn check(argument: &ArgumentGeneration) -> Option<Flaw> {
    let Some(stance) = argument.stance.as_deref() else {
        return Some(Flaw::NoStance);
    };
    let premise = argument.premise.as_deref().unwrap_or("").trim();
    if premise.is_empty() {
        return Some(Flaw::NoPremise);
    }
    let words = words(premise);
    if words.len() < MIN_PREMISE_WORDS {
        return Some(Flaw::TooShort);
    }
    if repeated_trigram_share(&words) > MAX_REPEATED_TRIGRAM_SHARE {
        return Some(Flaw::Repeated);
    }
    if echoes_prompt(premise, &argument.conclusion, stance) {
        return Some(Flaw::EchoesPrompt);
    }
    // A premise that continues a lead-in naming the conclusion ("I agree that we should ban
    // whaling, because it is cruel") need not repeat its words: only a free premise must.
    if argument.premise_lead_in.is_none()
        && !shares_content_word(&words, &self::words(&argument.conclusion))
    {
        return Some(Flaw::OffTopic);
    }
    None
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Share of the word trigrams that already occurred earlier in the text.
fn repeated_trigram_share(words: &[String]) -> f64 {
    if words.len() < 6 {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let trigrams = words.windows(3).count();
    let repeated = words.windows(3).filter(|w| !seen.insert(*w)).count();
    repeated as f64 / trigrams as f64
}

/// The premise contains the premise prompt's instruction ("Explain in detail why you ...").
fn echoes_prompt(premise: &str, conclusion: &str, stance: &str) -> bool {
    let verb = if stance == "against" {
        "disagree"
    } else {
        "agree"
    };
    let prompt = premise_prompt(conclusion, verb);
    let instruction = prompt.lines().next().unwrap_or("").to_lowercase();
    let premise = premise.to_lowercase();
    premise.contains("explain in detail")
        || (!instruction.is_empty() && premise.contains(&instruction))
}

fn stem(word: &str) -> &str {
    match word.char_indices().nth(STEM_CHARS) {
        Some((end, _)) => &word[..end],
        None => word,
    }
}

fn is_content(word: &str) -> bool {
    word.chars().count() >= MIN_CONTENT_WORD_CHARS && !STOP_WORDS.contains(&word)
}

fn shares_content_word(premise: &[String], conclusion: &[String]) -> bool {
    let topic: HashSet<&str> = conclusion
        .iter()
        .filter(|w| is_content(w))
        .map(|w| stem(w))
        .collect();
    // A conclusion with no content word ("We should do it") cannot be off-topic.
    topic.is_empty()
        || premise
            .iter()
            .any(|w| is_content(w) && topic.contains(stem(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argument(stance: Option<&str>, premise: Option<&str>) -> ArgumentGeneration {
        ArgumentGeneration {
            conclusion: "We should ban school uniforms".to_string(),
            method: "base".parse().unwrap(),
            stance: stance.map(str::to_string),
            stance_text: stance.unwrap_or("I'm not sure.").to_string(),
            premise: premise.map(str::to_string),
            premise_lead_in: None,
        }
    }

    #[test]
    fn a_relevant_premise_with_a_stance_passes() {
        let a = argument(
            Some("in favor of"),
            Some("Uniforms cost families money and stop pupils expressing who they are."),
        );
        assert_eq!(check(&a), None);
    }

    #[test]
    fn the_flaws_measured_with_the_small_model_are_caught() {
        assert_eq!(check(&argument(None, None)), Some(Flaw::NoStance));
        assert_eq!(
            check(&argument(Some("against"), Some("  "))),
            Some(Flaw::NoPremise)
        );
        assert_eq!(
            check(&argument(Some("against"), Some("Yes."))),
            Some(Flaw::TooShort)
        );
        assert_eq!(
            check(&argument(Some("against"), Some("This person is an alien."))),
            Some(Flaw::OffTopic)
        );
        assert_eq!(
            check(&argument(
                Some("against"),
                Some("Uniforms are good. Uniforms are good. Uniforms are good. Uniforms are good.")
            )),
            Some(Flaw::Repeated)
        );
        assert_eq!(
            check(&argument(
                Some("against"),
                Some("Explain in detail why you disagree with We should ban school uniforms.")
            )),
            Some(Flaw::EchoesPrompt)
        );
    }

    #[test]
    fn a_premise_after_a_lead_in_need_not_repeat_the_conclusion() {
        let free = argument(Some("against"), Some("it costs families a lot of money."));
        assert_eq!(check(&free), Some(Flaw::OffTopic));
        let led = ArgumentGeneration {
            premise_lead_in: Some("I disagree that we should ban school uniforms, because".into()),
            ..free
        };
        assert_eq!(check(&led), None);
        assert_eq!(
            led.premise_text().as_deref(),
            Some("I disagree that we should ban school uniforms, because it costs families a lot of money.")
        );
    }

    #[test]
    fn content_words_match_on_their_stem() {
        let a = argument(
            Some("against"),
            Some("A uniform makes every school day simpler for all."),
        );
        assert_eq!(check(&a), None);
    }
}
