//! Population strategies of the value-prompting paper: how N personas are spread over the ten
//! dominant values (and unprompted "naive" personas), or drawn from real respondents.
//!
//! - Uniform: an equal share per dominant value.
//! - H-Norm: shares proportional to how often each value dominates in the human data (people
//!   without a dominant value left out).
//! - H-Even: each value's human share, plus the share without a dominant value spread evenly.
//! - H-NP: each value's human share; the share without one becomes naive personas.
//! - Survey: N real respondents, each with the whole profile.
//!
//! Counts come from shares by the largest-remainder rule, so they always sum to N and the same
//! shares always give the same counts.

use crate::structure::{dominant_share, Scores};
use crate::{Error, Result};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use valuelab_common::{Value, ALL_VALUES, VALUE_COUNT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Uniform,
    HNorm,
    HEven,
    HNp,
    Survey,
}

pub const ALL_STRATEGIES: [Strategy; 5] = [
    Strategy::Uniform,
    Strategy::HNorm,
    Strategy::HEven,
    Strategy::HNp,
    Strategy::Survey,
];

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Uniform => "uniform",
            Strategy::HNorm => "h-norm",
            Strategy::HEven => "h-even",
            Strategy::HNp => "h-np",
            Strategy::Survey => "survey",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ALL_STRATEGIES
            .iter()
            .copied()
            .find(|x| x.name() == s.trim())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown strategy '{s}' (expected uniform, h-norm, h-even, h-np or survey)"
                ))
            })
    }
}

/// Who one persona stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PersonaTarget {
    /// A person who greatly values one value.
    Dominant { value: Value },
    /// A whole profile: a real respondent's (`id` their ESS idno or row).
    Profile { id: String, scores: Scores },
    /// No values in the prompt.
    Naive,
}

impl PersonaTarget {
    /// A short label for tables: `dominant:Security`, `survey:50014`, `naive`.
    pub fn label(&self) -> String {
        match self {
            PersonaTarget::Dominant { value } => format!("dominant:{}", value.name()),
            PersonaTarget::Profile { id, .. } => format!("survey:{id}"),
            PersonaTarget::Naive => "naive".into(),
        }
    }
}

/// Splits `n` into counts proportional to `shares` (any non-negative weights): floors first,
/// then one more to the largest remainders (ties to the earlier entry).
pub fn largest_remainder(n: usize, shares: &[f64]) -> Vec<usize> {
    let total: f64 = shares.iter().sum();
    if total <= 0.0 || shares.is_empty() {
        return vec![0; shares.len()];
    }
    let exact: Vec<f64> = shares.iter().map(|s| n as f64 * s / total).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let missing = n - counts.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        counts[i] += 1;
    }
    counts
}

/// The shares of a dominant-value strategy: one weight per value, then the naive share.
pub fn shares(strategy: Strategy, human: &[Scores], gap: f64) -> Result<[f64; VALUE_COUNT + 1]> {
    let mut out = [0.0; VALUE_COUNT + 1];
    if strategy == Strategy::Uniform {
        out[..VALUE_COUNT].fill(1.0 / VALUE_COUNT as f64);
        return Ok(out);
    }
    if human.is_empty() {
        return Err(Error::invalid(format!(
            "strategy {strategy} needs human respondents to take its shares from"
        )));
    }
    let found = dominant_share(human, gap);
    for v in ALL_VALUES {
        out[v.index()] = found.by_value[v.name()];
    }
    match strategy {
        Strategy::HNorm => {
            if found.share <= 0.0 {
                return Err(Error::invalid(format!(
                    "no human respondent has a dominant value at gap {gap}: H-Norm has no shares (lower --gap)"
                )));
            }
            for s in out.iter_mut().take(VALUE_COUNT) {
                *s /= found.share;
            }
        }
        Strategy::HEven => {
            for s in out.iter_mut().take(VALUE_COUNT) {
                *s += found.none / VALUE_COUNT as f64;
            }
        }
        Strategy::HNp => out[VALUE_COUNT] = found.none,
        Strategy::Uniform | Strategy::Survey => {}
    }
    Ok(out)
}

/// The `n` personas of `strategy`, in a fixed order (by value, then naive; or by draw).
/// `human` gives the shares (and, for Survey, the respondents with their ids); `seed` draws
/// Survey's respondents.
pub fn allocate(
    strategy: Strategy,
    n: usize,
    human: &[Scores],
    human_ids: &[String],
    gap: f64,
    seed: u64,
) -> Result<Vec<PersonaTarget>> {
    if n == 0 {
        return Err(Error::invalid(
            "a population needs at least one persona (--n)",
        ));
    }
    if strategy == Strategy::Survey {
        if n > human.len() {
            return Err(Error::invalid(format!(
                "--n {n} is more than the {} scored respondents of the survey sample",
                human.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut picked = sample(&mut rng, human.len(), n).into_vec();
        picked.sort_unstable();
        return Ok(picked
            .into_iter()
            .map(|i| PersonaTarget::Profile {
                id: human_ids
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("row{i}")),
                scores: human[i],
            })
            .collect());
    }
    let counts = largest_remainder(n, &shares(strategy, human, gap)?);
    let mut personas = Vec::with_capacity(n);
    for v in ALL_VALUES {
        personas.extend(std::iter::repeat_n(
            PersonaTarget::Dominant { value: v },
            counts[v.index()],
        ));
    }
    personas.extend(std::iter::repeat_n(
        PersonaTarget::Naive,
        counts[VALUE_COUNT],
    ));
    Ok(personas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::Value::*;

    fn person(top: Option<Value>) -> Scores {
        let mut s = [3.0; VALUE_COUNT];
        if let Some(v) = top {
            s[v.index()] = 5.0;
        }
        s
    }

    /// Ten people: 4 Security, 2 Power, 4 with no dominant value.
    fn human() -> Vec<Scores> {
        let mut h = vec![person(Some(Security)); 4];
        h.extend(vec![person(Some(Power)); 2]);
        h.extend(vec![person(None); 4]);
        h
    }

    fn count(personas: &[PersonaTarget], target: &PersonaTarget) -> usize {
        personas.iter().filter(|p| *p == target).count()
    }

    #[test]
    fn largest_remainder_sums_to_n_and_rounds_by_hand() {
        // 7 × (0.5, 0.3, 0.2) = 3.5, 2.1, 1.4 → floors 3, 2, 1 (6), the one left goes to 3.5.
        assert_eq!(largest_remainder(7, &[0.5, 0.3, 0.2]), vec![4, 2, 1]);
        // Equal remainders go to the earlier entry.
        assert_eq!(largest_remainder(1, &[1.0, 1.0]), vec![1, 0]);
        assert_eq!(largest_remainder(5, &[0.0, 0.0]), vec![0, 0]);
    }

    #[test]
    fn each_strategy_shares_personas_as_the_paper_defines() {
        let h = human();
        let sec = PersonaTarget::Dominant { value: Security };
        let pow = PersonaTarget::Dominant { value: Power };
        let ach = PersonaTarget::Dominant { value: Achievement };
        // Uniform: 20 over ten values, two each.
        let p = allocate(Strategy::Uniform, 20, &h, &[], 0.25, 0).unwrap();
        assert_eq!((count(&p, &sec), count(&p, &ach)), (2, 2));
        // H-Norm: 4:2 among those with a dominant value → 20 × 2/3 and 20 × 1/3.
        let p = allocate(Strategy::HNorm, 20, &h, &[], 0.25, 0).unwrap();
        assert_eq!(
            (count(&p, &sec), count(&p, &pow), count(&p, &ach)),
            (13, 7, 0)
        );
        // H-Even: 0.4 + 0.04, 0.2 + 0.04, 0.04 for the rest → of 100: 44, 24, 4 each.
        let p = allocate(Strategy::HEven, 100, &h, &[], 0.25, 0).unwrap();
        assert_eq!(
            (count(&p, &sec), count(&p, &pow), count(&p, &ach)),
            (44, 24, 4)
        );
        // H-NP: 0.4, 0.2, and 0.4 naive.
        let p = allocate(Strategy::HNp, 20, &h, &[], 0.25, 0).unwrap();
        assert_eq!(
            (
                count(&p, &sec),
                count(&p, &pow),
                count(&p, &PersonaTarget::Naive)
            ),
            (8, 4, 8)
        );
        assert_eq!(p.len(), 20);
    }

    #[test]
    fn survey_draws_distinct_respondents_reproducibly() {
        let h: Vec<Scores> = (0..10)
            .map(|k| [1.0 + k as f64 / 2.0; VALUE_COUNT])
            .collect();
        let ids: Vec<String> = (0..10).map(|k| format!("id{k}")).collect();
        let a = allocate(Strategy::Survey, 4, &h, &ids, 0.25, 9).unwrap();
        assert_eq!(a, allocate(Strategy::Survey, 4, &h, &ids, 0.25, 9).unwrap());
        let labels: std::collections::BTreeSet<String> = a.iter().map(|p| p.label()).collect();
        assert_eq!(labels.len(), 4);
        assert!(allocate(Strategy::Survey, 11, &h, &ids, 0.25, 9)
            .unwrap_err()
            .to_string()
            .contains("more than the 10"));
    }

    #[test]
    fn strategies_parse_by_their_command_line_names() {
        for s in ALL_STRATEGIES {
            assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
        }
        assert!("h_np".parse::<Strategy>().is_err());
    }
}
