//! Task 1 (§5.1): the Portrait Values Questionnaire, prompt of the paper's Table 18. The model
//! answers each of the 40 items on 1..6; the value scores follow from the PVQ key.
//!
//! Scored surface form: the digits "1".."6". The prompt numbers the options and the paper's
//! generated answers are digits (Table 24); each digit is a single token, so one forward pass
//! scores all six; and the option labels overlap ("Not like me" is the start of "Not like me at
//! all"), which biases raw sums towards the short label and length-normalised scores towards
//! the long one. Sampled answers are read as digits or labels (`AnswerScale::parse_answer`).

use super::task::{Task, TaskItem, TaskKind};
use crate::data::pvq::PvqItem;
use crate::{Error, Result};
use valuelab_common::pvq::PVQ_OPTIONS;
use valuelab_common::scale::AnswerScale;
use valuelab_common::ALL_VALUES;

/// Table 18 with `{PVQ item}` filled in. The item's own closing full stop is dropped because
/// the template adds one ("Statement: {PVQ item}. Answer:").
pub fn prompt(item_text: &str) -> String {
    format!(
        "Indicate for the following statement whether it is {} as a description of you. Statement: {}. Answer:",
        numbered_options(&PVQ_OPTIONS),
        item_text.trim().trim_end_matches('.')
    )
}

/// Options as Table 18 lists them: "1. 'Not like me at all', 2. 'Not like me', ..." (the other
/// questionnaires valuelab asks number their options the same way, so every answer is a digit).
pub fn numbered_options(options: &[&str]) -> String {
    let numbered: Vec<String> = options
        .iter()
        .enumerate()
        .map(|(i, o)| format!("{}. '{o}'", i + 1))
        .collect();
    numbered.join(", ")
}

pub fn task(items: &[PvqItem]) -> Result<Task> {
    if items.is_empty() {
        return Err(Error::invalid(
            "no pvq items (expected the 40 items of pvq40_items.tsv)",
        ));
    }
    let scale = AnswerScale::Options(PVQ_OPTIONS.iter().map(|s| s.to_string()).collect());
    let options: Vec<String> = (1..=PVQ_OPTIONS.len()).map(|k| k.to_string()).collect();
    let option_values: Vec<f64> = (0..PVQ_OPTIONS.len())
        .map(|i| scale.rescale_index(i))
        .collect();
    let task_items = items
        .iter()
        .map(|item| TaskItem {
            id: item.number.to_string(),
            key: item.value.index(),
            prompt: prompt(&item.text),
            options: options.clone(),
            option_values: option_values.clone(),
            parser: Some(scale.clone()),
            subject: item.text.clone(),
        })
        .collect();
    Ok(Task {
        kind: TaskKind::Pvq,
        keys: ALL_VALUES.iter().map(|v| v.name().to_string()).collect(),
        categories: ALL_VALUES.iter().map(|v| v.name().to_string()).collect(),
        items: task_items,
        pvq_key: Some(items.iter().map(|i| i.value).collect()),
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
    fn prompt_is_table_18() {
        let text = "Thinking up new ideas and being creative is important to him. He likes to do things in his own original way.";
        assert_eq!(
            prompt(text),
            "Indicate for the following statement whether it is 1. 'Not like me at all', 2. 'Not like me', 3. 'A little like me', 4. 'Somewhat like me', 5. 'Like me', 6. 'Very much like me' as a description of you. Statement: Thinking up new ideas and being creative is important to him. He likes to do things in his own original way. Answer:"
        );
    }

    #[test]
    fn builds_forty_items_from_the_real_data_with_four_per_value_or_more() {
        let data = shared_data();
        let items = crate::data::pvq::read_pvq40(&data.pvq40_items_tsv()).unwrap();
        let task = task(&items).unwrap();
        assert_eq!(task.items.len(), 40);
        assert_eq!(task.keys.len(), 10);
        for v in ALL_VALUES {
            let n = task.items.iter().filter(|i| i.key == v.index()).count();
            assert!(n >= 3, "{v} has {n} items");
        }
        let first = &task.items[0];
        assert_eq!(first.id, "1");
        assert_eq!(first.key, Value::SelfDirection.index());
        assert_eq!(first.options, ["1", "2", "3", "4", "5", "6"]);
        for (i, v) in first.option_values.iter().enumerate() {
            assert!((v - i as f64 / 5.0).abs() < 1e-12);
        }
        assert!(first.prompt.ends_with("in his own original way. Answer:"));
        // Digits and labels both read back to the same position.
        let parser = first.parser.as_ref().unwrap();
        assert_eq!(parser.parse_answer("3"), Ok(2));
        assert_eq!(parser.parse_answer("Not like me at all"), Ok(0));
    }
}
