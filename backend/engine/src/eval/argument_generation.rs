//! Task 2 (§5.2): argument generation, prompts of the paper's Table 19. For a conclusion of the
//! test split the model first states a stance (prompt 1), then explains it (prompt 2, with the
//! stance it generated). The generations are stored for human evaluation; nothing is scored
//! automatically, so the task runs in sample mode only.

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
            conclusion: Some(a.conclusion.trim().to_string()),
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
