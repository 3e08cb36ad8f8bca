//! Question answering (the paper's Algorithm 2 and Table 17): one example per (argument,
//! expressed value), asking how much the argument describes "you" on the PVQ's six options and
//! answering with the value and the group's score on it, rounded stochastically to a whole option.
//!
//! Rendering: the paper's table breaks the option list over lines only for layout (its text
//! extraction flattens it); valuelab renders the prompt on one line with single spaces, exactly
//! as [`qa_prompt`] documents, and inserts the data's texts verbatim (a premise ending in "." gives
//! "..", as the template does).

use super::{Profile, Task, TrainingExample};
use crate::data::touche::Argument;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use valuelab_common::Value;

/// The text before the statement (Table 17, and Table 18 for the PVQ task).
pub const QA_INSTRUCTION: &str = "Indicate for the following statement whether it is 1. 'Not like me at all', 2. 'Not like me', 3. 'A little like me', 4. 'Somewhat like me', 5. 'Like me', 6. 'Very much like me' as a description of you.";

/// Table 17's EXPRESSION for the answers 1..=6.
pub const EXPRESSIONS: [&str; 6] = [
    "not important to me at all",
    "not important to me",
    "a little important to me",
    "somewhat important to me",
    "important to me",
    "very much important to me",
];

/// Table 17's prompt: `{QA_INSTRUCTION} Statement: I {stance} with {conclusion}. {premise}. Answer:`.
pub fn qa_prompt(argument: &Argument) -> String {
    format!(
        "{QA_INSTRUCTION} Statement: I {} with {}. {}. Answer:",
        argument.stance.as_str(),
        argument.conclusion,
        argument.premise
    )
}

/// Table 17's answer for `value` and an option `score` in 1..=6 (clamped).
pub fn qa_answer(value: Value, score: u8) -> String {
    let score = score.clamp(1, 6);
    format!(
        "Because I think {} is {}, my answer is {score}.",
        value.name(),
        EXPRESSIONS[usize::from(score) - 1]
    )
}

/// Algorithm 2's `l = v // 1 + Bernoulli(v % 1)`: 5.2 becomes 5 with probability 0.8 and 6 with
/// 0.2; whole scores stay as they are. The result is clamped to the options 1..=6.
pub fn stochastic_round(score: f64, rng: &mut impl Rng) -> u8 {
    let floor = score.floor();
    let fraction = score - floor;
    let up = fraction > 0.0 && rng.random_bool(fraction.min(1.0));
    (floor + f64::from(u8::from(up))).clamp(1.0, 6.0) as u8
}

/// One example per (argument, expressed value), in argument then value order. The rounding draws
/// come from ChaCha8 seeded with `seed`, so the same seed gives the same answers.
pub fn question_answering_examples(
    arguments: &[Argument],
    group: &impl Profile,
    seed: u64,
) -> Vec<TrainingExample> {
    let group = group.distribution();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut examples = Vec::new();
    for argument in arguments {
        let prompt = qa_prompt(argument);
        for value in argument.expressed_values() {
            let score = stochastic_round(group.score(value), &mut rng);
            examples.push(TrainingExample {
                persona: String::new(),
                prompt: prompt.clone(),
                answer: qa_answer(value, score),
                task: Task::Qa,
                argument_id: argument.id,
            });
        }
    }
    examples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::touche::Stance;
    use valuelab_common::{ValueDistribution, VALUE_COUNT};

    #[test]
    fn stochastic_rounding_goes_up_with_the_fractional_part() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let draws = 20_000;
        let sixes = (0..draws)
            .filter(|_| stochastic_round(5.2, &mut rng) == 6)
            .count();
        let share = sixes as f64 / draws as f64;
        // Binomial(20000, 0.2) has sd 0.0028; 0.19..0.21 is over 3.5 sd wide.
        assert!((0.19..0.21).contains(&share), "{share}");
        assert!((0..1000).all(|_| stochastic_round(5.2, &mut rng) >= 5));
        assert!((0..100).all(|_| stochastic_round(4.0, &mut rng) == 4));
        assert!((0..100).all(|_| stochastic_round(6.0, &mut rng) == 6));
        assert!((0..100).all(|_| stochastic_round(1.0, &mut rng) == 1));
    }

    #[test]
    fn texts_follow_table_17_exactly() {
        let argument = Argument {
            id: 3,
            conclusion: "We should abolish zoos".into(),
            stance: Stance::InFavorOf,
            premise: "animals belong in the wild".into(),
            values: [false; VALUE_COUNT],
        };
        assert_eq!(
            qa_prompt(&argument),
            "Indicate for the following statement whether it is 1. 'Not like me at all', 2. 'Not like me', 3. 'A little like me', 4. 'Somewhat like me', 5. 'Like me', 6. 'Very much like me' as a description of you. Statement: I in favor of with We should abolish zoos. animals belong in the wild. Answer:"
        );
        assert_eq!(
            qa_answer(Value::SelfDirection, 5),
            "Because I think Self-direction is important to me, my answer is 5."
        );
        assert_eq!(
            qa_answer(Value::Power, 1),
            "Because I think Power is not important to me at all, my answer is 1."
        );
        assert_eq!(
            qa_answer(Value::Power, 6),
            "Because I think Power is very much important to me, my answer is 6."
        );
    }

    #[test]
    fn one_example_per_expressed_value_seeded() {
        let mut values = [false; VALUE_COUNT];
        values[Value::Hedonism.index()] = true;
        values[Value::Tradition.index()] = true;
        let argument = Argument {
            id: 11,
            conclusion: "C".into(),
            stance: Stance::Against,
            premise: "P".into(),
            values,
        };
        let mut scores = [3.0; VALUE_COUNT];
        scores[Value::Hedonism.index()] = 2.0;
        scores[Value::Tradition.index()] = 4.5;
        let group = ValueDistribution::parse(scores).unwrap();
        let args = vec![argument.clone(), argument];
        let a = question_answering_examples(&args, &group, 9);
        assert_eq!(a.len(), 4);
        assert_eq!(
            a[0].answer,
            "Because I think Hedonism is not important to me, my answer is 2."
        );
        assert!(a[1].answer.starts_with("Because I think Tradition is "));
        assert!(a
            .iter()
            .all(|e| e.task == Task::Qa && e.argument_id == 11 && e.prompt == qa_prompt(&args[0])));
        assert_eq!(question_answering_examples(&args, &group, 9), a);
        // Over many seeds Tradition 4.5 rounds both ways.
        let answers: std::collections::BTreeSet<String> = (0..40)
            .map(|s| {
                question_answering_examples(&args, &group, s)[1]
                    .answer
                    .clone()
            })
            .collect();
        assert_eq!(answers.len(), 2);
    }
}
