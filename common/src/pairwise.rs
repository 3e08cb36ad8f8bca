//! Pairwise preference judgements, as in the paper's Figure 3: annotators see the outputs of
//! method A and method B side by side and pick one or call a tie. Two summaries: how often A
//! wins, B wins or they tie, and whether annotators favour whichever output is shown on the
//! left, which would bias the first summary wherever sides are not balanced.
//!
//! Shares get Wilson score intervals rather than the textbook Wald `p ± z √(p(1 − p)/n)`: with
//! the few dozen judgements of a study and shares near 0 or 1, Wald intervals leave [0, 1] and
//! collapse to a point at 0 or n successes, while Wilson's keep close to nominal coverage
//! (Brown, Cai & DasGupta 2001, "Interval estimation for a binomial proportion").

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};
use std::fmt;
use std::str::FromStr;

/// Standard normal quantile for a two-sided 95 % interval, Φ⁻¹(0.975).
const Z_95: f64 = 1.959_963_984_540_054;

/// A judgement in terms of the methods compared, whatever side each was shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Canonical {
    #[serde(rename = "A")]
    A,
    #[serde(rename = "B")]
    B,
    #[serde(rename = "tie")]
    Tie,
}

impl Canonical {
    /// The spelling of the CSV files and the API: `"A"`, `"B"`, `"tie"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Canonical::A => "A",
            Canonical::B => "B",
            Canonical::Tie => "tie",
        }
    }

    /// Reads [`Canonical::as_str`]'s spelling, ignoring case and surrounding blanks (a
    /// spreadsheet's "a" or "Tie" is unambiguous).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a" => Ok(Canonical::A),
            "b" => Ok(Canonical::B),
            "tie" => Ok(Canonical::Tie),
            _ => Err(format!(
                "unknown choice {s:?}: expected \"A\", \"B\" or \"tie\""
            )),
        }
    }
}

impl fmt::Display for Canonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Canonical {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Canonical::parse(s)
    }
}

/// A judgement as the annotator made it: the output shown on the left, on the right, or a tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shown {
    Left,
    Right,
    Tie,
}

impl Shown {
    /// `"left"`, `"right"` or `"tie"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Left => "left",
            Shown::Right => "right",
            Shown::Tie => "tie",
        }
    }

    /// Reads [`Shown::as_str`]'s spelling, ignoring case and surrounding blanks.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "left" => Ok(Shown::Left),
            "right" => Ok(Shown::Right),
            "tie" => Ok(Shown::Tie),
            _ => Err(format!(
                "unknown side {s:?}: expected \"left\", \"right\" or \"tie\""
            )),
        }
    }

    /// The method this choice favours, given whether method A's output was on the left.
    pub fn to_canonical(self, a_on_left: bool) -> Canonical {
        match (self, a_on_left) {
            (Shown::Tie, _) => Canonical::Tie,
            (Shown::Left, true) | (Shown::Right, false) => Canonical::A,
            (Shown::Left, false) | (Shown::Right, true) => Canonical::B,
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Shown {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Shown::parse(s)
    }
}

/// One outcome's count among `n` judgements, its share and Wilson 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub count: usize,
    pub share: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Figure 3's bar: how often A wins, B wins, or they tie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WinTieLose {
    pub n: usize,
    pub a_wins: Share,
    pub b_wins: Share,
    pub ties: Share,
}

/// Whether annotators favour the left side: among decisive (non-tie) judgements, the share
/// that picked the left output, with a Wilson 95 % interval and a two-sided exact binomial
/// test against 1/2. All `None` without a decisive judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionBias {
    pub decisive: usize,
    pub left: usize,
    pub left_share: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
}

/// Wilson score 95 % interval of `successes` out of `n` (> 0) trials.
fn wilson(successes: usize, n: usize) -> (f64, f64) {
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let scale = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / scale;
    let half = Z_95 / scale * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 or n successes an end is exactly 0 or 1; rounding must not move it off.
    let lo = if successes == 0 { 0.0 } else { centre - half };
    let hi = if p == 1.0 { 1.0 } else { centre + half };
    (lo, hi)
}

fn share(count: usize, n: usize) -> Share {
    let (ci_low, ci_high) = wilson(count, n);
    Share {
        count,
        share: count as f64 / n as f64,
        ci_low,
        ci_high,
    }
}

/// Win / tie / lose shares of canonical judgements; `None` without any judgement.
pub fn win_tie_lose(choices: &[Canonical]) -> Option<WinTieLose> {
    let n = choices.len();
    if n == 0 {
        return None;
    }
    let count = |c: Canonical| choices.iter().filter(|&&x| x == c).count();
    Some(WinTieLose {
        n,
        a_wins: share(count(Canonical::A), n),
        b_wins: share(count(Canonical::B), n),
        ties: share(count(Canonical::Tie), n),
    })
}

/// Two-sided exact binomial test of `k` successes in `n` (> 0) trials against 1/2. The null
/// distribution is symmetric, so R's `binom.test` rule (sum the outcomes no likelier than the
/// observed one) reduces to doubling the smaller tail.
fn binomial_test_half(k: usize, n: usize) -> Option<f64> {
    let dist = Binomial::new(0.5, n as u64).ok()?;
    let k = k as u64;
    let lower = dist.cdf(k);
    // P(X ≥ k) from the survival function, which keeps precision in the far upper tail.
    let upper = if k == 0 { 1.0 } else { dist.sf(k - 1) };
    Some((2.0 * lower.min(upper)).min(1.0))
}

/// Left-side preference among shown judgements; ties are left out.
pub fn position_bias(shown: &[Shown]) -> PositionBias {
    let left = shown.iter().filter(|&&s| s == Shown::Left).count();
    let decisive = left + shown.iter().filter(|&&s| s == Shown::Right).count();
    if decisive == 0 {
        return PositionBias {
            decisive,
            left,
            left_share: None,
            ci_low: None,
            ci_high: None,
            p_value: None,
        };
    }
    let (lo, hi) = wilson(left, decisive);
    PositionBias {
        decisive,
        left,
        left_share: Some(left as f64 / decisive as f64),
        ci_low: Some(lo),
        ci_high: Some(hi),
        p_value: binomial_test_half(left, decisive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_of_8_in_10_matches_the_textbook() {
        // Newcombe (1998), "Two-sided confidence intervals for the single proportion", and
        // R's prop.test(8, 10, correct = FALSE): 0.4902 to 0.9433.
        let (lo, hi) = wilson(8, 10);
        assert!((lo - 0.4902).abs() < 5e-5, "{lo}");
        assert!((hi - 0.9433).abs() < 5e-5, "{hi}");
        // At 0 of n the interval starts exactly at 0 (Wald's would be the point 0).
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-5, "{hi}");
    }

    #[test]
    fn binomial_test_of_8_in_10_is_0_109375() {
        // P(X ≥ 8) = (45 + 10 + 1) / 1024 = 0.0546875, doubled; R: binom.test(8, 10).
        assert!((binomial_test_half(8, 10).unwrap() - 0.109375).abs() < 1e-12);
        assert!((binomial_test_half(2, 10).unwrap() - 0.109375).abs() < 1e-12);
        assert_eq!(binomial_test_half(5, 10), Some(1.0));
        // 0 of 5: 2 / 32.
        assert!((binomial_test_half(0, 5).unwrap() - 0.0625).abs() < 1e-12);
    }

    #[test]
    fn win_tie_lose_counts_and_shares() {
        let mut choices = vec![Canonical::A; 8];
        choices.extend([Canonical::B, Canonical::Tie]);
        let w = win_tie_lose(&choices).unwrap();
        assert_eq!(w.n, 10);
        assert_eq!((w.a_wins.count, w.b_wins.count, w.ties.count), (8, 1, 1));
        assert_eq!(w.a_wins.share, 0.8);
        assert!((w.a_wins.ci_low - 0.4902).abs() < 5e-5);
        assert!((w.a_wins.ci_high - 0.9433).abs() < 5e-5);
        assert!(w.ties.ci_low < 0.1 && 0.1 < w.ties.ci_high);
        assert_eq!(win_tie_lose(&[]), None);
    }

    #[test]
    fn position_bias_of_8_left_in_10_decisive() {
        let mut shown = vec![Shown::Left; 8];
        shown.extend([Shown::Right, Shown::Right, Shown::Tie, Shown::Tie]);
        let b = position_bias(&shown);
        assert_eq!((b.decisive, b.left), (10, 8));
        assert_eq!(b.left_share, Some(0.8));
        assert!((b.ci_low.unwrap() - 0.4902).abs() < 5e-5);
        assert!((b.p_value.unwrap() - 0.109375).abs() < 1e-12);
        let none = position_bias(&[Shown::Tie]);
        assert_eq!(
            (none.decisive, none.left_share, none.p_value),
            (0, None, None)
        );
    }

    #[test]
    fn shown_sides_map_to_methods() {
        assert_eq!(Shown::Left.to_canonical(true), Canonical::A);
        assert_eq!(Shown::Left.to_canonical(false), Canonical::B);
        assert_eq!(Shown::Right.to_canonical(true), Canonical::B);
        assert_eq!(Shown::Right.to_canonical(false), Canonical::A);
        assert_eq!(Shown::Tie.to_canonical(true), Canonical::Tie);
        assert_eq!(Shown::Tie.to_canonical(false), Canonical::Tie);
    }

    #[test]
    fn spellings_round_trip_through_serde_and_parse() {
        for c in [Canonical::A, Canonical::B, Canonical::Tie] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Canonical>(&json).unwrap(), c);
            assert_eq!(Canonical::parse(c.as_str()), Ok(c));
            assert_eq!(c.to_string().parse::<Canonical>(), Ok(c));
        }
        for s in [Shown::Left, Shown::Right, Shown::Tie] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Shown>(&json).unwrap(), s);
            assert_eq!(Shown::parse(s.as_str()), Ok(s));
        }
        assert_eq!(Canonical::parse(" a "), Ok(Canonical::A));
        assert_eq!(Shown::parse("Left"), Ok(Shown::Left));
    }

    #[test]
    fn bad_spellings_name_the_value_and_the_choices() {
        assert_eq!(
            Canonical::parse("C"),
            Err(r#"unknown choice "C": expected "A", "B" or "tie""#.to_string())
        );
        assert_eq!(
            Shown::parse("middle"),
            Err(r#"unknown side "middle": expected "left", "right" or "tie""#.to_string())
        );
    }
}
