//! The dominant-value rule of population building: a respondent's dominant value is the top
//! value when it stands at least `gap` scale points above the second; otherwise (a tie, or a
//! flatter profile) the respondent has none. The value-prompting paper's 53 % "without a
//! dominant value" comes from another definition, so the shares are reported for several gaps.

use super::matrix::Scores;
use serde::Serialize;
use std::collections::BTreeMap;
use valuelab_common::{Value, ALL_VALUES};

/// The default gap G in scale points.
pub const DEFAULT_GAP: f64 = 0.25;

/// Gaps reported side by side, so the reader sees how much the share depends on G.
pub const REPORTED_GAPS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// The dominant value of `scores`, if any. A tie at the top has no dominant value even at
/// gap 0.
pub fn dominant_value(scores: &Scores, gap: f64) -> Option<Value> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (top, second) = (scores[order[0]], scores[order[1]]);
    (top > second && top - second >= gap - 1e-12).then(|| ALL_VALUES[order[0]])
}

/// How often each value dominates in a sample, at one gap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DominantShare {
    pub gap: f64,
    /// Share of respondents with a dominant value.
    pub share: f64,
    /// Share with none (the paper's "no dominant value" group).
    pub none: f64,
    /// Share of all respondents dominated by each value (sums to `share`).
    pub by_value: BTreeMap<String, f64>,
}

pub fn dominant_share(rows: &[Scores], gap: f64) -> DominantShare {
    let n = rows.len().max(1) as f64;
    let mut by_value: BTreeMap<String, f64> = ALL_VALUES
        .iter()
        .map(|v| (v.name().to_string(), 0.0))
        .collect();
    let mut with = 0usize;
    for row in rows {
        if let Some(v) = dominant_value(row, gap) {
            with += 1;
            *by_value.get_mut(v.name()).expect("every value listed") += 1.0 / n;
        }
    }
    DominantShare {
        gap,
        share: with as f64 / n,
        none: 1.0 - with as f64 / n,
        by_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::Value::*;

    fn profile(pairs: &[(Value, f64)]) -> Scores {
        let mut s = [3.0; 10];
        for &(v, x) in pairs {
            s[v.index()] = x;
        }
        s
    }

    #[test]
    fn the_top_value_dominates_only_by_the_gap() {
        let p = profile(&[(Security, 5.0), (Tradition, 4.8)]);
        assert_eq!(dominant_value(&p, 0.0), Some(Security));
        assert_eq!(dominant_value(&p, 0.2), Some(Security)); // exactly the gap counts
        assert_eq!(dominant_value(&p, 0.25), None);
        // A tie at the top has no dominant value, whatever the gap.
        let tie = profile(&[(Power, 5.0), (Hedonism, 5.0)]);
        assert_eq!(dominant_value(&tie, 0.0), None);
    }

    #[test]
    fn shares_count_respondents_by_hand() {
        let rows = [
            profile(&[(Security, 5.0)]),                   // Security by 2
            profile(&[(Security, 4.0), (Power, 3.5)]),     // Security by 0.5
            profile(&[(Universalism, 4.1), (Power, 4.0)]), // by 0.1
            profile(&[]),                                  // flat
        ];
        let s = dominant_share(&rows, 0.25);
        assert_eq!(s.share, 0.5);
        assert_eq!(s.none, 0.5);
        assert_eq!(s.by_value["Security"], 0.5);
        assert_eq!(s.by_value["Universalism"], 0.0);
        let s = dominant_share(&rows, 0.0);
        assert_eq!(s.share, 0.75);
        assert_eq!(s.by_value["Universalism"], 0.25);
        assert_eq!(dominant_share(&rows, 1.0).share, 0.25);
    }
}
