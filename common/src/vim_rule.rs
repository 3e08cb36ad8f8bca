//! How VIM's argument generation (Kang et al. 2023, Algorithm 1) combines a group's scores on
//! the values an argument expresses before comparing them with the threshold γ: the paper's
//! `min`, or the `mean` behind the authors' released training files. Pure arithmetic on a value
//! distribution, shared by the engine's example builder and its data check.

use crate::{ValueDistribution, VALUE_COUNT};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the scores of an argument's expressed values combine before the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// The paper's Algorithm 1.
    Min,
    /// The released training data.
    Mean,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Min => "min",
            Rule::Mean => "mean",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Rule, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "min" => Ok(Rule::Min),
            "mean" => Ok(Rule::Mean),
            other => Err(format!("unknown rule '{other}' (expected min or mean)")),
        }
    }
}

/// The group's combined score over the expressed values (`values[i]` set), or `None` when no
/// value is expressed.
pub fn rule_score(
    rule: Rule,
    values: &[bool; VALUE_COUNT],
    group: &ValueDistribution,
) -> Option<f64> {
    let scores = group
        .scores()
        .iter()
        .zip(values)
        .filter(|(_, &expressed)| expressed)
        .map(|(&s, _)| s);
    match rule {
        Rule::Min => scores.reduce(f64::min),
        Rule::Mean => {
            // Summed in value order, as pandas' row mean does, so the released scores match.
            let (sum, n) = scores.fold((0.0, 0usize), |(sum, n), s| (sum + s, n + 1));
            (n > 0).then(|| sum / n as f64)
        }
    }
}
