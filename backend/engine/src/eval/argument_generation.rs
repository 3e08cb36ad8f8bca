//! Task 2 (§5.2): argument generation, prompts of the paper's Table 19. For a conclusion of the
//! test split the model first states a stance (prompt 1), then explains it (prompt 2, with that
//! stance). The generations are stored for human evaluation; nothing is scored automatically.
//!
//! Two protocols. `sample` is the paper's: the stance is sampled and parsed from words, which a
//! small model often fails ("I'm not sure.", "Yes"). `expect` (the default) chooses the stance
//! as survey items are answered, by the likelihood of the two stance answers (no parse
//! failures), then samples the premise after a fixed lead-in that states the stance inside the
//! model's own turn, so the premise argues the stance it was given.

use super::task::{Task, TaskItem, TaskKind};
use crate::data::touche::{Argument, Stance};
use crate::{Error, Result};
use std::collections::HashSet;

/// Token budgets of the two generations: a stance is a few words, a premise a few sentences.
pub const STANCE_MAX_TOKENS: usize = 16;
pub const PREMISE_MAX_TOKENS: usize = 96;

/// Table 19, prompt 1 (stance).
pub fn stance_prompt(conclusion: &str) -> String {
    format!(
        "Do you agree or disagree with {}?\nAnswer:",
        conclusion.trim()
    )
}

/// Table 19, prompt 2 (premise); `stance` is "agree" or "disagree" as generated.
pub fn premise_prompt(conclusion: &str, stance: &str) -> String {
    format!(
        "Explain in detail why you {stance} with {}.\nAnswer:",
        conclusion.trim()
    )
}

/// The two answers to prompt 1 scored in `expect` mode, in the order of [`STANCES`].
pub const STANCE_ANSWERS: [&str; 2] = ["I agree", "I disagree"];
pub const STANCES: [Stance; 2] = [Stance::InFavorOf, Stance::Against];

/// The more likely stance of `probabilities` over [`STANCE_ANSWERS`] (in favor on a tie).
pub fn likeliest_stance(probabilities: &[f64]) -> Stance {
    match probabilities {
        [favor, against] if against > favor => Stance::Against,
        _ => Stance::InFavorOf,
    }
}

/// The words the premise starts with in `expect` mode: the stance stated, then "because", so
/// the model's continuation is the reason ("I disagree that we should ban cars, because").
pub fn premise_lead_in(conclusion: &str, stance: Stance) -> String {
    let conclusion = conclusion.trim().trim_end_matches(['.', '!', '?']);
    let mut chars = conclusion.chars();
    // "We should ..." reads as "that we should ...", but "US schools ..." keeps its capitals.
    let lowered = match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => first
            .to_lowercase()
            .chain(conclusion.chars().skip(1))
            .collect(),
        _ => conclusion.to_string(),
    };
    format!("I {} that {lowered}, because", stance_verb(stance))
}

/// Words that state a stance in a generation's first line: the prompt's own verbs and the
/// dataset's stance names ("in favor of" / "against").
const FOR_WORDS: [&str; 4] = ["agree", "favor", "favour", "support"];
const AGAINST_WORDS: [&str; 3] = ["disagree", "against", "oppose"];
/// Words that turn the stance word after them around ("don't" splits into "don" and "t").
const NEGATIONS: [&str; 5] = ["not", "don", "never", "cannot", "no"];

/// Reads a generated stance from its first non-empty line: agreeing words → in favor of,
/// disagreeing words → against; `None` when the line says neither or both (a bare "No" to
/// "agree or disagree?" is not read as either).
pub fn parse_stance(text: &str) -> Option<Stance> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let words: Vec<String> = line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    // "I would not agree" disagrees: a negation up to three words before flips the word.
    let negated = |i: usize| {
        words[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()))
    };
    let (mut says_for, mut says_against) = (false, false);
    for (i, w) in words.iter().enumerate() {
        let (is_for, is_against) = (
            FOR_WORDS.contains(&w.as_str()),
            AGAINST_WORDS.contains(&w.as_str()),
        );
        if !(is_for || is_against) {
            continue;
        }
        if is_for != negated(i) {
            says_for = true;
        } else {
            says_against = true;
        }
    }
    match (says_for, says_against) {
        (true, false) => Some(Stance::InFavorOf),
        (false, true) => Some(Stance::Against),
        _ => None,
    }
}

/// The verb prompt 2 uses for a stance.
pub fn stance_verb(stance: Stance) -> &'static str {
    match stance {
        Stance::InFavorOf => "agree",
        Stance::Against => "disagree",
    }
}

/// One item per distinct conclusion, in file order, named by the id of its first argument.
pub fn task(arguments: &[Argument]) -> Result<Task> {
    let mut seen = HashSet::new();
    let items: Vec<TaskItem> = arguments
        .iter()
        .filter(|a| seen.insert(a.conclusion.trim().to_string()))
        .map(|a| TaskItem {
            id: a.id.to_string(),
            key: 0,
            prompt: stance_prompt(&a.conclusion),
            options: Vec::new(),
            option_values: Vec::new(),
            parser: None,
            subject: a.conclusion.trim().to_string(),
        })
        .collect();
    if items.is_empty() {
        return Err(Error::invalid(
            "no arguments (expected the test split argument_generation/test.csv)",
        ));
    }
    Ok(Task {
        kind: TaskKind::Args,
        keys: Vec::new(),
        categories: Vec::new(),
        items,
        pvq_key: None,
        gold: None,
        few_shot: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;
    use crate::data::touche::{read_arguments, Split};

    #[test]
    fn prompts_are_table_19() {
        let c = "We should abandon the use of school uniform";
        assert_eq!(
            stance_prompt(c),
            "Do you agree or disagree with We should abandon the use of school uniform?\nAnswer:"
        );
        assert_eq!(
            premise_prompt(c, stance_verb(Stance::Against)),
            "Explain in detail why you disagree with We should abandon the use of school uniform.\nAnswer:"
        );
    }

    #[test]
    fn the_lead_in_states_the_stance_and_asks_for_a_reason() {
        assert_eq!(
            premise_lead_in("We should ban cars.", Stance::Against),
            "I disagree that we should ban cars, because"
        );
        assert_eq!(
            premise_lead_in(" US schools need uniforms", Stance::InFavorOf),
            "I agree that US schools need uniforms, because"
        );
        assert_eq!(likeliest_stance(&[0.4, 0.6]), Stance::Against);
        assert_eq!(likeliest_stance(&[0.5, 0.5]), Stance::InFavorOf);
        assert_eq!(
            STANCES.map(stance_verb),
            ["agree", "disagree"],
            "STANCE_ANSWERS and STANCES are in the same order"
        );
        assert!(STANCE_ANSWERS[1].ends_with(stance_verb(STANCES[1])));
    }

    #[test]
    fn stances_are_read_from_words_never_guessed() {
        assert_eq!(parse_stance("I agree."), Some(Stance::InFavorOf));
        assert_eq!(parse_stance(" Disagree, because"), Some(Stance::Against));
        assert_eq!(parse_stance("It is complicated."), None);
        assert_eq!(parse_stance("I agree and disagree"), None);
        assert_eq!(
            parse_stance("I am in favor of it."),
            Some(Stance::InFavorOf)
        );
        assert_eq!(parse_stance("Against."), Some(Stance::Against));
        assert_eq!(parse_stance("No"), None);
        assert_eq!(
            parse_stance("I would not agree with you."),
            Some(Stance::Against)
        );
        assert_eq!(parse_stance("I don't disagree."), Some(Stance::InFavorOf));
        assert_eq!(
            parse_stance("I am not against it."),
            Some(Stance::InFavorOf)
        );
        assert_eq!(
            parse_stance("\nI disagree.\nBut some agree."),
            Some(Stance::Against)
        );
    }

    #[test]
    fn one_item_per_distinct_conclusion_of_the_test_split() {
        let data = shared_data();
        let arguments = read_arguments(&data.split_csv(Split::Test)).unwrap();
        let conclusions: HashSet<&str> = arguments.iter().map(|a| a.conclusion.trim()).collect();
        let task = task(&arguments).unwrap();
        assert_eq!(task.items.len(), conclusions.len());
        assert_eq!(task.items[0].id, arguments[0].id.to_string());
        assert_eq!(
            task.items[0].prompt,
            stance_prompt(&arguments[0].conclusion)
        );
    }
}
