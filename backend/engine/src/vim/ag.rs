//! Argument generation (the paper's Algorithm 1 and Table 16): each argument becomes "I would say
//! ..." when the target group's scores on the values the argument expresses reach the threshold γ,
//! else "I would not say ...".
//!
//! Two rules decide: `min` (Algorithm 1: the least important expressed value must reach γ) and
//! `mean` (what the authors' released training files used: the mean of the expressed values'
//! scores must reach γ; checked row by row against `golden_ag_labels_th3.tsv`). An argument that
//! expresses no value has no score under either rule; it gets no example and is counted
//! ([`unlabelled_count`]). No argument of the released data is unlabelled.

use super::{Profile, Task, TrainingExample};
use crate::data::touche::Argument;
pub use valuelab_common::vim_rule::{rule_score, Rule};
use valuelab_common::ValueDistribution;

/// γ of the paper's experiments (Section 4).
pub const DEFAULT_THRESHOLD: f64 = 3.0;

/// Whether the group would say the argument (`None` when it expresses no value).
pub fn would_say(
    argument: &Argument,
    group: &ValueDistribution,
    rule: Rule,
    threshold: f64,
) -> Option<bool> {
    rule_score(rule, &argument.values, group).map(|score| score >= threshold)
}

/// Table 16's prompt.
pub fn ag_prompt(argument: &Argument) -> String {
    format!(
        "Tell me what you would say about the following statement. Statement: {} Answer:",
        argument.conclusion
    )
}

/// Table 16's answer type 1 (`would_say`) or 2. Texts are inserted verbatim, so a premise that
/// ends with a full stop gives `..`, as the paper's template does.
pub fn ag_answer(argument: &Argument, would_say: bool) -> String {
    let verb = if would_say {
        "I would say"
    } else {
        "I would not say"
    };
    format!(
        "{verb}, \"I {} with that because {}.\" about {}",
        argument.stance.as_str(),
        argument.premise,
        argument.conclusion
    )
}

/// One example per argument that expresses a value, in argument order.
pub fn argument_generation_examples(
    arguments: &[Argument],
    group: &impl Profile,
    rule: Rule,
    threshold: f64,
) -> Vec<TrainingExample> {
    let group = group.distribution();
    arguments
        .iter()
        .filter_map(|a| {
            would_say(a, group, rule, threshold).map(|say| TrainingExample {
                persona: String::new(),
                prompt: ag_prompt(a),
                answer: ag_answer(a, say),
                task: Task::Ag,
                argument_id: a.id,
            })
        })
        .collect()
}

/// Arguments that express no value and so get no argument-generation example.
pub fn unlabelled_count(arguments: &[Argument]) -> usize {
    arguments.iter().filter(|a| !a.has_values()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::golden::{read_golden_labels, GOLDEN_THRESHOLD};
    use crate::data::groups::{find_group, read_groups};
    use crate::data::testdata::shared_data;
    use crate::data::touche::Stance;
    use valuelab_common::Value;
    use valuelab_common::VALUE_COUNT;

    fn argument(values: &[Value]) -> Argument {
        let mut flags = [false; VALUE_COUNT];
        for v in values {
            flags[v.index()] = true;
        }
        Argument {
            id: 7,
            conclusion: "We should ban fast food".into(),
            stance: Stance::Against,
            premise: "fast food is cheap".into(),
            values: flags,
        }
    }

    /// Power 2, Security 5, Universalism 3.5, the rest 4.
    fn group() -> ValueDistribution {
        let mut scores = [4.0; VALUE_COUNT];
        scores[Value::Power.index()] = 2.0;
        scores[Value::Security.index()] = 5.0;
        scores[Value::Universalism.index()] = 3.5;
        ValueDistribution::parse(scores).unwrap()
    }

    #[test]
    fn min_rule_is_bounded_by_the_least_important_value() {
        let g = group();
        let mixed = argument(&[Value::Power, Value::Security]);
        assert_eq!(rule_score(Rule::Min, &mixed.values, &g), Some(2.0));
        assert_eq!(would_say(&mixed, &g, Rule::Min, 3.0), Some(false));
        // The mean (3.5) reaches γ where the minimum does not.
        assert_eq!(rule_score(Rule::Mean, &mixed.values, &g), Some(3.5));
        assert_eq!(would_say(&mixed, &g, Rule::Mean, 3.0), Some(true));
        // A score equal to γ counts as reaching it (Algorithm 1: min ≥ γ).
        let exact = argument(&[Value::Universalism]);
        assert_eq!(would_say(&exact, &g, Rule::Min, 3.5), Some(true));
        assert_eq!(would_say(&exact, &g, Rule::Min, 3.6), Some(false));
        let high = argument(&[Value::Security, Value::Universalism, Value::Achievement]);
        assert_eq!(rule_score(Rule::Min, &high.values, &g), Some(3.5));
        assert_eq!(would_say(&argument(&[]), &g, Rule::Min, 3.0), None);
        assert_eq!(would_say(&argument(&[]), &g, Rule::Mean, 3.0), None);
    }

    #[test]
    fn texts_follow_table_16_exactly() {
        let a = argument(&[Value::Power]);
        assert_eq!(
            ag_prompt(&a),
            "Tell me what you would say about the following statement. Statement: We should ban fast food Answer:"
        );
        assert_eq!(
            ag_answer(&a, true),
            "I would say, \"I against with that because fast food is cheap.\" about We should ban fast food"
        );
        assert_eq!(
            ag_answer(&a, false),
            "I would not say, \"I against with that because fast food is cheap.\" about We should ban fast food"
        );
    }

    #[test]
    fn unlabelled_arguments_are_skipped_and_counted() {
        let args = vec![
            argument(&[Value::Power]),
            argument(&[]),
            argument(&[Value::Security]),
        ];
        let examples = argument_generation_examples(&args, &group(), Rule::Min, DEFAULT_THRESHOLD);
        assert_eq!(examples.len(), 2);
        assert!(examples[0].answer.starts_with("I would not say"));
        assert!(examples[1].answer.starts_with("I would say"));
        assert!(examples
            .iter()
            .all(|e| e.task == Task::Ag && e.argument_id == 7));
        assert_eq!(unlabelled_count(&args), 1);
    }

    /// Every row of the authors' released labels: the group's scores from
    /// `country_and_group.csv`, the row's value columns, `score` = the mean, `label` at γ = 3.
    #[test]
    fn mean_rule_reproduces_every_released_label() {
        let data = shared_data();
        let groups = read_groups(&data.groups_csv()).unwrap();
        let labels = read_golden_labels(&data.golden_ag_labels_tsv()).unwrap();
        assert_eq!(labels.len(), 29694);
        let mut min_disagrees = 0;
        for label in &labels {
            let g = &find_group(&groups, &label.group).unwrap().values;
            let score = rule_score(Rule::Mean, &label.values, g).unwrap();
            assert!(
                (score - label.score).abs() < 1e-9,
                "line {}: mean {score} vs {}",
                label.line,
                label.score
            );
            assert_eq!(
                score >= GOLDEN_THRESHOLD,
                label.would_say,
                "line {}",
                label.line
            );
            let min = rule_score(Rule::Min, &label.values, g).unwrap();
            min_disagrees += usize::from((min >= GOLDEN_THRESHOLD) != label.would_say);
        }
        // The released labels are not the paper's min rule (README: a known discrepancy).
        assert!(min_disagrees > 0);
    }

    #[test]
    fn rules_parse_from_their_names() {
        assert_eq!("MEAN".parse::<Rule>().unwrap(), Rule::Mean);
        assert!("median"
            .parse::<Rule>()
            .unwrap_err()
            .to_string()
            .contains("expected min or mean"));
    }
}
