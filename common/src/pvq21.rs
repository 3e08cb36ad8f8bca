//! Scoring of the 21-item PVQ in the European Social Survey, the source of the paper's target
//! groups (§4.1). ESS codes answers 1 = "very much like me" .. 6 = "not like me at all", the
//! reverse of the 1..6 importance scale, and stores refusals and "don't know" as missing codes.
//! Respondents with too few answers are left out rather than scored on a handful of items.

use crate::distribution::ValueDistribution;
use crate::values::{Value, ALL_VALUES, VALUE_COUNT};

/// ESS missing-data codes (refusal, don't know, no answer; 2-digit forms in some rounds).
pub const ESS_MISSING_CODES: [i64; 7] = [7, 8, 9, 66, 77, 88, 99];

/// A respondent needs at least this many of the 21 items answered to be scored (the issue's
/// rule: at most 5 missing answers).
pub const MIN_ANSWERED_ITEMS: usize = 16;

/// Items in the ESS battery; [`MIN_ANSWERED_ITEMS`] is counted against it.
pub const PVQ21_ITEMS: usize = 21;

/// Highest valid ESS answer code; a score is `REVERSE_BASE - answer`.
const MAX_ANSWER_CODE: i64 = 6;
const REVERSE_BASE: i64 = 7;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Pvq21Error {
    #[error("{answers} answers for {items} pvq-21 items (expected one per item)")]
    LengthMismatch { items: usize, answers: usize },
    #[error("only {answered} of {items} items answered (need {needed})")]
    TooFewAnswers {
        answered: usize,
        items: usize,
        needed: usize,
    },
    #[error("no answered item for {0}")]
    NoAnswerForValue(Value),
}

/// True for an ESS code that is a real answer (1..=6); missing codes and anything else are not.
pub fn is_valid_answer(code: i64) -> bool {
    (1..=MAX_ANSWER_CODE).contains(&code)
}

/// Scores one respondent: `item_values[i]` is the value item `i` measures, `answers[i]` the raw
/// ESS code (`None` when the cell is empty). Each value's score is the mean of `7 − answer` over
/// its answered items.
pub fn score_pvq21(
    item_values: &[Value],
    answers: &[Option<i64>],
) -> Result<ValueDistribution, Pvq21Error> {
    if item_values.len() != answers.len() {
        return Err(Pvq21Error::LengthMismatch {
            items: item_values.len(),
            answers: answers.len(),
        });
    }
    let mut sums = [0.0; VALUE_COUNT];
    let mut counts = [0usize; VALUE_COUNT];
    for (&value, answer) in item_values.iter().zip(answers) {
        // Missing codes (7, 8, 9, 66, ...) all fall outside 1..6, as does any stray code.
        if let Some(code) = answer.filter(|&c| is_valid_answer(c)) {
            sums[value.index()] += (REVERSE_BASE - code) as f64;
            counts[value.index()] += 1;
        }
    }
    let answered: usize = counts.iter().sum();
    // The rule allows 5 missing answers out of 21; a shorter or longer key (a subset in a
    // test, another round's battery) keeps that allowance rather than an impossible 16.
    let needed = item_values
        .len()
        .saturating_sub(PVQ21_ITEMS - MIN_ANSWERED_ITEMS);
    if answered < needed {
        return Err(Pvq21Error::TooFewAnswers {
            answered,
            items: item_values.len(),
            needed,
        });
    }
    let mut scores = [0.0; VALUE_COUNT];
    for value in ALL_VALUES {
        let i = value.index();
        if counts[i] == 0 {
            return Err(Pvq21Error::NoAnswerForValue(value));
        }
        scores[i] = sums[i] / counts[i] as f64;
    }
    // Means of 1..6 scores stay in 1..6.
    Ok(ValueDistribution::parse(scores).expect("means of scores in 1..6 lie in 1..6"))
}

/// A respondent's mean importance over all answered items (`7 − answer`), the quantity
/// subtracted in Schwartz's within-person centring; `None` when no item is answered.
pub fn mean_item_score(answers: &[Option<i64>]) -> Option<f64> {
    let scores: Vec<f64> = answers
        .iter()
        .filter_map(|a| a.filter(|&c| is_valid_answer(c)))
        .map(|c| (REVERSE_BASE - c) as f64)
        .collect();
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ESS round-6 key (`ess_pvq21_key.tsv`): item 1 ipcrtiv .. item 21 impfun.
    const KEY: [Value; 21] = [
        Value::SelfDirection,
        Value::Power,
        Value::Universalism,
        Value::Achievement,
        Value::Security,
        Value::Stimulation,
        Value::Conformity,
        Value::Universalism,
        Value::Tradition,
        Value::Hedonism,
        Value::SelfDirection,
        Value::Benevolence,
        Value::Achievement,
        Value::Security,
        Value::Stimulation,
        Value::Conformity,
        Value::Power,
        Value::Benevolence,
        Value::Universalism,
        Value::Tradition,
        Value::Hedonism,
    ];

    #[test]
    fn answers_are_reverse_coded_and_averaged_per_value() {
        let answers: Vec<Option<i64>> = vec![Some(2); 21];
        let d = score_pvq21(&KEY, &answers).unwrap();
        assert!(d.scores().iter().all(|&s| s == 5.0));

        let mut answers = vec![Some(3); 21];
        answers[2] = Some(1); // Universalism: 6
        answers[7] = Some(6); // Universalism: 1
        answers[18] = Some(4); // Universalism: 3
        let d = score_pvq21(&KEY, &answers).unwrap();
        assert!((d.score(Value::Universalism) - 10.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.score(Value::Power), 4.0);
    }

    #[test]
    fn missing_codes_are_skipped_not_scored() {
        let mut answers = vec![Some(1); 21];
        answers[1] = Some(8); // Power item: don't know
        answers[16] = Some(5); // other Power item → score 2
        answers[0] = Some(77);
        answers[5] = None;
        let d = score_pvq21(&KEY, &answers).unwrap();
        assert_eq!(d.score(Value::Power), 2.0);
        assert_eq!(d.score(Value::SelfDirection), 6.0);
        for code in ESS_MISSING_CODES {
            assert!(!is_valid_answer(code));
        }
    }

    #[test]
    fn too_few_answers_says_how_many() {
        let mut answers = vec![Some(2); 21];
        for a in answers.iter_mut().take(9) {
            *a = Some(9);
        }
        let err = score_pvq21(&KEY, &answers).unwrap_err();
        assert_eq!(err.to_string(), "only 12 of 21 items answered (need 16)");
        // Sixteen answers are enough.
        let mut answers = vec![Some(2); 21];
        for i in [0, 1, 2, 3, 4] {
            answers[i] = Some(99);
        }
        assert!(score_pvq21(&KEY, &answers).is_ok());
    }

    #[test]
    fn a_value_without_any_answered_item_is_named() {
        let mut answers = vec![Some(2); 21];
        answers[9] = Some(7);
        answers[20] = None;
        let err = score_pvq21(&KEY, &answers).unwrap_err();
        assert_eq!(err.to_string(), "no answered item for Hedonism");
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        assert!(matches!(
            score_pvq21(&KEY, &[Some(1)]),
            Err(Pvq21Error::LengthMismatch {
                items: 21,
                answers: 1
            })
        ));
    }

    #[test]
    fn the_mean_item_score_reverses_codes_and_skips_missing_ones() {
        // Codes 1, 2, 6 → scores 6, 5, 1: mean 4. Missing codes and empty cells do not count.
        let answers = [Some(1), Some(2), Some(6), Some(8), None, Some(77)];
        assert_eq!(mean_item_score(&answers), Some(4.0));
        assert_eq!(mean_item_score(&[None, Some(9)]), None);
    }
}
