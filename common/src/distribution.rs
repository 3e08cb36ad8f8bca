//! A target value distribution: one importance score in 1..=6 per Schwartz value (PVQ scale).

use crate::values::{Value, ALL_VALUES, VALUE_COUNT};
use serde::{Deserialize, Serialize};

pub const MIN_SCORE: f64 = 1.0;
pub const MAX_SCORE: f64 = 6.0;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributionError {
    #[error("score {score} for {value} is outside 1..6")]
    OutOfRange { value: Value, score: f64 },
    #[error("score for {value} is not a number")]
    NotFinite { value: Value },
    #[error("expected {VALUE_COUNT} value scores, got {0}")]
    WrongLength(usize),
}

/// Scores in the order of [`ALL_VALUES`]. Construct with [`ValueDistribution::parse`]; the
/// fields stay private so every instance is valid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f64>", into = "Vec<f64>")]
pub struct ValueDistribution {
    scores: [f64; VALUE_COUNT],
}

impl ValueDistribution {
    pub fn parse(scores: [f64; VALUE_COUNT]) -> Result<Self, DistributionError> {
        for (value, &score) in ALL_VALUES.iter().zip(scores.iter()) {
            if !score.is_finite() {
                return Err(DistributionError::NotFinite { value: *value });
            }
            if !(MIN_SCORE..=MAX_SCORE).contains(&score) {
                return Err(DistributionError::OutOfRange {
                    value: *value,
                    score,
                });
            }
        }
        Ok(Self { scores })
    }

    pub fn from_slice(scores: &[f64]) -> Result<Self, DistributionError> {
        let array: [f64; VALUE_COUNT] = scores
            .try_into()
            .map_err(|_| DistributionError::WrongLength(scores.len()))?;
        Self::parse(array)
    }

    pub fn score(&self, value: Value) -> f64 {
        self.scores[value.index()]
    }

    pub fn scores(&self) -> &[f64; VALUE_COUNT] {
        &self.scores
    }

    /// Scores rescaled from 1..6 to 0..1, the scale NMSE is computed on.
    pub fn normalised(&self) -> [f64; VALUE_COUNT] {
        self.scores
            .map(|s| (s - MIN_SCORE) / (MAX_SCORE - MIN_SCORE))
    }

    /// The highest-scored value (the first one on ties), used by the dominant-value persona.
    pub fn dominant(&self) -> Value {
        let mut best = 0;
        for i in 1..VALUE_COUNT {
            if self.scores[i] > self.scores[best] {
                best = i;
            }
        }
        ALL_VALUES[best]
    }

    pub fn iter(&self) -> impl Iterator<Item = (Value, f64)> + '_ {
        ALL_VALUES.iter().copied().zip(self.scores.iter().copied())
    }

    /// The value-by-value mean of `profiles` (all zeros for none).
    pub fn mean_scores<'a>(
        profiles: impl ExactSizeIterator<Item = &'a ValueDistribution>,
    ) -> [f64; VALUE_COUNT] {
        let n = profiles.len() as f64;
        let mut mean = [0.0; VALUE_COUNT];
        for p in profiles {
            for (m, s) in mean.iter_mut().zip(p.scores()) {
                *m += s / n;
            }
        }
        mean
    }
}

impl TryFrom<Vec<f64>> for ValueDistribution {
    type Error = DistributionError;
    fn try_from(v: Vec<f64>) -> Result<Self, Self::Error> {
        Self::from_slice(&v)
    }
}

impl From<ValueDistribution> for Vec<f64> {
    fn from(d: ValueDistribution) -> Self {
        d.scores.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_scores_average_value_by_value() {
        let a = ValueDistribution::parse([1.0; VALUE_COUNT]).unwrap();
        let mut high = [5.0; VALUE_COUNT];
        high[3] = 6.0;
        let b = ValueDistribution::parse(high).unwrap();
        let mean = ValueDistribution::mean_scores([a, b].iter());
        assert_eq!(mean[0], 3.0);
        assert_eq!(mean[3], 3.5);
        assert_eq!(
            ValueDistribution::mean_scores([].iter()),
            [0.0; VALUE_COUNT]
        );
    }

    const ALBANIA: [f64; 10] = [4.65, 5.23, 4.56, 4.52, 3.89, 5.15, 4.69, 3.76, 4.91, 5.0];

    #[test]
    fn out_of_range_score_names_the_value() {
        let mut scores = ALBANIA;
        scores[4] = 7.2;
        let err = ValueDistribution::parse(scores).unwrap_err();
        assert_eq!(err.to_string(), "score 7.2 for Power is outside 1..6");
        scores[4] = f64::NAN;
        assert!(matches!(
            ValueDistribution::parse(scores),
            Err(DistributionError::NotFinite {
                value: Value::Power
            })
        ));
        assert!(matches!(
            ValueDistribution::from_slice(&[3.0; 9]),
            Err(DistributionError::WrongLength(9))
        ));
    }

    #[test]
    fn normalises_and_finds_the_dominant_value() {
        let d = ValueDistribution::parse(ALBANIA).unwrap();
        assert_eq!(d.dominant(), Value::Benevolence);
        let n = d.normalised();
        assert!((n[1] - (5.23 - 1.0) / 5.0).abs() < 1e-12);
        assert_eq!(
            ValueDistribution::parse([1.0; 10]).unwrap().normalised(),
            [0.0; 10]
        );
    }

    #[test]
    fn serde_rejects_invalid_scores() {
        let d: ValueDistribution = serde_json::from_str("[1,2,3,4,5,6,1,2,3,4]").unwrap();
        assert_eq!(d.score(Value::Security), 6.0);
        assert!(serde_json::from_str::<ValueDistribution>("[1,2,3,4,5,6,1,2,3,0.5]").is_err());
    }
}
