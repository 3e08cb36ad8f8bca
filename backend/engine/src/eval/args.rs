//! Task 2 (§5.2): argument generation, prompts of the paper's Table 19. For a conclusion of the
//! test split the model first states a stance (prompt 1), then explains it (prompt 2, with the
//! stance it generated). The generations are stored for human evaluation; nothing is scored
//! automatically, so the task runs in sample mode only.

use super::task::{Task, TaskItem, TaskKind};
use crate::data::touche::{Argument, Stance};
use crate::{Error, Result};
use std::collections::HashSet;
use valuelab_common::scale::AnswerScale;

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

/// Reads a generated stance: "agree" → in favor of, "disagree" → against; `None` when the text
/// says neither or both.
pub fn parse_stance(text: &str) -> Option<Stance> {
    let scale = AnswerScale::Options(vec!["agree".to_string(), "disagree".to_string()]);
    match scale.parse_answer(text) {
        Ok(0) => Some(Stance::InFavorOf),
        Ok(_) => Some(Stance::Against),
        Err(_) => None,
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
