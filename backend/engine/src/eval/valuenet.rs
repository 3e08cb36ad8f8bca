//! Task 3 (§6.1): behaviour prediction on 500 ValueNet scenarios, prompt of the paper's Table
//! 20. The agreement ratio of a value is the share of its scenarios where the model agrees with
//! a positive or disagrees with a negative scenario; each item's answer is the probability (or
//! the share of samples) of that matching answer.

use super::task::{Task, TaskItem, TaskKind};
use crate::data::valuenet::Scenario;
use crate::{Error, Result};
use std::collections::HashMap;
use valuelab_common::scale::AnswerScale;
use valuelab_common::ALL_VALUES;

/// The answers the prompt asks for, in option order (index 0 agrees).
pub const OPTIONS: [&str; 2] = ["I agree", "I disagree"];

/// Table 20 with `{VALUENET scenario}` filled in, one line per line of the table. A closing full
/// stop of the scenario is dropped because the template adds one.
pub fn prompt(scenario: &str) -> String {
    format!(
        "Do you agree the behavior or expression in the following scenario similar to you?\n\
         Please answer \"I agree\" or \"I disagree\".\n\
         Scenario: {}.\n\
         Answer:",
        scenario.trim().trim_end_matches('.')
    )
}

/// Items in the loader's order; an item's id is `<Value>_<positive|negative>_<k>`, `k` its
/// position within that file, so ids stay stable across runs.
pub fn task(scenarios: &[Scenario]) -> Result<Task> {
    if scenarios.is_empty() {
        return Err(Error::invalid(
            "no valuenet scenarios (expected the 20 files of vim/valuenet/)",
        ));
    }
    // Words, not positions, decide: "I disagree" holds the word "disagree", never "agree".
    let parser = AnswerScale::Options(vec!["agree".to_string(), "disagree".to_string()]);
    let mut counters: HashMap<(usize, i8), usize> = HashMap::new();
    let items = scenarios
        .iter()
        .map(|s| {
            let k = counters.entry((s.value.index(), s.label)).or_insert(0);
            let polarity = if s.label > 0 { "positive" } else { "negative" };
            let id = format!("{}_{polarity}_{k}", s.value.name());
            *k += 1;
            TaskItem {
                id,
                key: s.value.index(),
                prompt: prompt(&s.scenario),
                options: OPTIONS.iter().map(|o| o.to_string()).collect(),
                option_values: if s.label > 0 {
                    vec![1.0, 0.0]
                } else {
                    vec![0.0, 1.0]
                },
                parser: Some(parser.clone()),
                subject: s.scenario.clone(),
            }
        })
        .collect();
    Ok(Task {
        kind: TaskKind::ValueNet,
        keys: ALL_VALUES.iter().map(|v| v.name().to_string()).collect(),
        categories: ALL_VALUES.iter().map(|v| v.name().to_string()).collect(),
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
    use valuelab_common::Value;

    #[test]
    fn prompt_is_table_20() {
        assert_eq!(
            prompt("Not wanting my kids to eat candy for breakfast"),
            "Do you agree the behavior or expression in the following scenario similar to you?\nPlease answer \"I agree\" or \"I disagree\".\nScenario: Not wanting my kids to eat candy for breakfast.\nAnswer:"
        );
    }

    #[test]
    fn builds_500_items_with_agreement_on_positive_and_disagreement_on_negative() {
        let scenarios =
            crate::data::valuenet::read_valuenet(&shared_data().valuenet_dir()).unwrap();
        let task = task(&scenarios).unwrap();
        assert_eq!(task.items.len(), 500);
        let mut ids: Vec<&str> = task.items.iter().map(|i| i.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 500, "ids are unique");
        for v in ALL_VALUES {
            let of_value: Vec<&TaskItem> =
                task.items.iter().filter(|i| i.key == v.index()).collect();
            assert_eq!(of_value.len(), 50);
            assert_eq!(
                of_value
                    .iter()
                    .filter(|i| i.option_values == [1.0, 0.0])
                    .count(),
                25
            );
        }
        let first = &task.items[0];
        assert_eq!(first.id, "Achievement_positive_0");
        assert_eq!(first.key, Value::Achievement.index());
        // A positive scenario: agreeing is the matching answer.
        assert_eq!(first.expected_answer(&[0.7, 0.3]), 0.7);
        let negative = task
            .items
            .iter()
            .find(|i| i.id == "Achievement_negative_0")
            .unwrap();
        assert_eq!(negative.expected_answer(&[0.7, 0.3]), 0.3);
        let parser = first.parser.as_ref().unwrap();
        assert_eq!(parser.parse_answer("I disagree."), Ok(1));
        assert_eq!(parser.parse_answer(" I agree"), Ok(0));
    }
}
