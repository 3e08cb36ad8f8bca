//! PVQ-40 scoring (§5.1 of the paper): a model answers the 40 portrait items on the six-point
//! scale of Table 18, and each value's score is the mean of the items that the standard scoring
//! key assigns to it. The key itself (`pvq40_items.tsv`) is loaded by `engine::data`; this module
//! only does the arithmetic so the wasm frontend can score answers too.

use crate::distribution::{ValueDistribution, MAX_SCORE, MIN_SCORE};
use crate::values::{Value, ALL_VALUES, VALUE_COUNT};

/// Answer options of the PVQ prompt, worded as in the paper's Table 18; position `i` is the
/// answer `i + 1` on the 1..6 scale.
pub const PVQ_OPTIONS: [&str; 6] = [
    "Not like me at all",
    "Not like me",
    "A little like me",
    "Somewhat like me",
    "Like me",
    "Very much like me",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PvqError {
    #[error("{answers} answers for {items} pvq items (expected one answer, or none, per item)")]
    LengthMismatch { items: usize, answers: usize },
    #[error("answer {answer} to pvq item {item} ({value}) is outside 1..6")]
    OutOfRange {
        /// 1-based item number, as in the questionnaire.
        item: usize,
        value: Value,
        answer: f64,
    },
}

/// Mean answer per value (order of [`ALL_VALUES`]); `None` where no item of that value was
/// answered, so a partly answered questionnaire is still reported honestly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvqScores {
    pub means: [Option<f64>; VALUE_COUNT],
    /// Items with an answer.
    pub answered: usize,
}

impl PvqScores {
    /// The scores as a distribution, or `None` if any value has no answered item.
    pub fn to_distribution(&self) -> Option<ValueDistribution> {
        let mut scores = [0.0; VALUE_COUNT];
        for (score, mean) in scores.iter_mut().zip(self.means.iter()) {
            *score = (*mean)?;
        }
        // Every mean of answers in 1..6 lies in 1..6, so parse only fails on a broken invariant.
        ValueDistribution::parse(scores).ok()
    }

    pub fn mean(&self, value: Value) -> Option<f64> {
        self.means[value.index()]
    }
}

/// Scores PVQ answers: `item_values[i]` is the value item `i` scores, `answers[i]` its answer on
/// 1..=6 (fractional answers allowed: an expected answer from option probabilities), `None`
/// when unanswered.
pub fn score_pvq(item_values: &[Value], answers: &[Option<f64>]) -> Result<PvqScores, PvqError> {
    if item_values.len() != answers.len() {
        return Err(PvqError::LengthMismatch {
            items: item_values.len(),
            answers: answers.len(),
        });
    }
    let mut sums = [0.0; VALUE_COUNT];
    let mut counts = [0usize; VALUE_COUNT];
    for (i, (&value, answer)) in item_values.iter().zip(answers).enumerate() {
        let Some(answer) = *answer else { continue };
        // `contains` is false for NaN, so a NaN answer is reported as out of range too.
        if !(MIN_SCORE..=MAX_SCORE).contains(&answer) {
            return Err(PvqError::OutOfRange {
                item: i + 1,
                value,
                answer,
            });
        }
        sums[value.index()] += answer;
        counts[value.index()] += 1;
    }
    let mut means = [None; VALUE_COUNT];
    for v in ALL_VALUES {
        let i = v.index();
        if counts[i] > 0 {
            means[i] = Some(sums[i] / counts[i] as f64);
        }
    }
    Ok(PvqScores {
        means,
        answered: counts.iter().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One item per value in `ALL_VALUES` order, plus a second Power item.
    fn key() -> Vec<Value> {
        let mut k = ALL_VALUES.to_vec();
        k.push(Value::Power);
        k
    }

    #[test]
    fn a_value_scores_the_mean_of_its_answered_items() {
        let mut answers: Vec<Option<f64>> = (0..10).map(|i| Some(1.0 + (i % 6) as f64)).collect();
        answers.push(Some(2.0)); // second Power item; first Power item (index 4) answered 5
        let scores = score_pvq(&key(), &answers).unwrap();
        assert_eq!(scores.answered, 11);
        assert_eq!(scores.mean(Value::Power), Some(3.5));
        assert_eq!(scores.mean(Value::Achievement), Some(1.0));
        assert_eq!(scores.mean(Value::Universalism), Some(4.0));
        let d = scores.to_distribution().unwrap();
        assert_eq!(d.score(Value::Power), 3.5);
    }

    #[test]
    fn fractional_expected_answers_are_averaged() {
        let mut answers = vec![Some(3.0); 11];
        answers[4] = Some(4.25);
        answers[10] = Some(5.75);
        let scores = score_pvq(&key(), &answers).unwrap();
        assert_eq!(scores.mean(Value::Power), Some(5.0));
    }

    #[test]
    fn unanswered_items_are_skipped_and_a_missing_value_has_no_distribution() {
        let mut answers = vec![Some(4.0); 11];
        answers[4] = None;
        let scores = score_pvq(&key(), &answers).unwrap();
        assert_eq!(scores.answered, 10);
        assert_eq!(scores.mean(Value::Power), Some(4.0));
        answers[10] = None;
        let scores = score_pvq(&key(), &answers).unwrap();
        assert_eq!(scores.mean(Value::Power), None);
        assert_eq!(scores.to_distribution(), None);
    }

    #[test]
    fn an_answer_outside_the_scale_names_item_and_value() {
        let mut answers = vec![Some(4.0); 11];
        answers[3] = Some(7.0);
        let err = score_pvq(&key(), &answers).unwrap_err();
        assert_eq!(
            err.to_string(),
            "answer 7 to pvq item 4 (Hedonism) is outside 1..6"
        );
        answers[3] = Some(f64::NAN);
        assert!(matches!(
            score_pvq(&key(), &answers),
            Err(PvqError::OutOfRange { item: 4, .. })
        ));
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let err = score_pvq(&key(), &[Some(1.0)]).unwrap_err();
        assert_eq!(
            err,
            PvqError::LengthMismatch {
                items: 11,
                answers: 1
            }
        );
    }

    #[test]
    fn options_run_from_not_like_me_to_very_much_like_me() {
        assert_eq!(PVQ_OPTIONS[0], "Not like me at all");
        assert_eq!(PVQ_OPTIONS[5], "Very much like me");
    }
}
