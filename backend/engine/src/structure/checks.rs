//! The checks Schwartz's theory makes of a value correlation matrix, each reported with its
//! numbers: the two bipolar dimensions (Conservation against Openness to change,
//! Self-enhancement against Self-transcendence) relate negatively, and values next to each other
//! on the circle relate positively. Hedonism, which the theory shares between Openness and
//! Self-enhancement, is left out of both dimensions.

use super::matrix::CorrelationMatrix;
use serde::Serialize;
use valuelab_common::Value::{self, *};

/// The motivational circle, in order; the last value is adjacent to the first. Tradition and
/// Conformity share a wedge in the theory and sit next to each other here.
pub const CIRCLE: [Value; 10] = [
    SelfDirection,
    Stimulation,
    Hedonism,
    Achievement,
    Power,
    Security,
    Conformity,
    Tradition,
    Benevolence,
    Universalism,
];

pub const CONSERVATION: [Value; 3] = [Security, Conformity, Tradition];
pub const OPENNESS: [Value; 2] = [SelfDirection, Stimulation];
pub const SELF_ENHANCEMENT: [Value; 2] = [Power, Achievement];
pub const SELF_TRANSCENDENCE: [Value; 2] = [Universalism, Benevolence];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheoryCheck {
    pub name: String,
    pub pass: bool,
    /// The figure the check is decided on (a mean correlation, or a count of pairs).
    pub value: f64,
    pub detail: String,
}

/// Every check on `matrix`. A matrix with an undefined entry fails the checks that need it.
pub fn theory_checks(matrix: &CorrelationMatrix) -> Vec<TheoryCheck> {
    vec![
        opposed(
            "conservation_vs_openness",
            "Conservation (Security, Conformity, Tradition) vs Openness to change (Self-direction, Stimulation)",
            matrix,
            &CONSERVATION,
            &OPENNESS,
        ),
        opposed(
            "enhancement_vs_transcendence",
            "Self-enhancement (Power, Achievement) vs Self-transcendence (Universalism, Benevolence)",
            matrix,
            &SELF_ENHANCEMENT,
            &SELF_TRANSCENDENCE,
        ),
        adjacent_positive(matrix),
        circular_order(matrix),
    ]
}

fn opposed(
    name: &str,
    what: &str,
    matrix: &CorrelationMatrix,
    a: &[Value],
    b: &[Value],
) -> TheoryCheck {
    let rs: Vec<f64> = a
        .iter()
        .flat_map(|&x| b.iter().map(move |&y| matrix.get(x, y)))
        .collect();
    let mean = rs.iter().sum::<f64>() / rs.len() as f64;
    TheoryCheck {
        name: name.to_string(),
        pass: mean < 0.0,
        value: mean,
        detail: format!(
            "{what}: mean r over the {} cross pairs {mean:.3} (theory: negative)",
            rs.len()
        ),
    }
}

fn adjacent_positive(matrix: &CorrelationMatrix) -> TheoryCheck {
    let pairs: Vec<(Value, Value, f64)> = (0..CIRCLE.len())
        .map(|k| {
            let (a, b) = (CIRCLE[k], CIRCLE[(k + 1) % CIRCLE.len()]);
            (a, b, matrix.get(a, b))
        })
        .collect();
    let positive = pairs.iter().filter(|(_, _, r)| *r > 0.0).count();
    let failing: Vec<String> = pairs
        .iter()
        .filter(|(_, _, r)| r.is_nan() || *r <= 0.0)
        .map(|(a, b, r)| format!("{a}–{b} {r:.3}"))
        .collect();
    TheoryCheck {
        name: "adjacent_positive".into(),
        pass: positive == pairs.len(),
        value: positive as f64,
        detail: if failing.is_empty() {
            format!("all {} adjacent pairs correlate positively", pairs.len())
        } else {
            format!(
                "{positive} of {} adjacent pairs correlate positively; not: {}",
                pairs.len(),
                failing.join(", ")
            )
        },
    }
}

/// Mean correlation of the pairs 1, 2, .., 5 steps apart on the circle.
pub fn mean_r_by_distance(matrix: &CorrelationMatrix) -> [f64; 5] {
    let n = CIRCLE.len();
    let mut sums = [0.0; 5];
    let mut counts = [0usize; 5];
    for (i, &a) in CIRCLE.iter().enumerate() {
        for (j, &b) in CIRCLE.iter().enumerate().skip(i + 1) {
            let steps = (j - i).min(n - (j - i));
            sums[steps - 1] += matrix.get(a, b);
            counts[steps - 1] += 1;
        }
    }
    std::array::from_fn(|k| sums[k] / counts[k] as f64)
}

/// The circumplex's own prediction: correlations fall as values lie further apart on the
/// circle (a sinusoid), so the mean r at 1..5 steps decreases.
fn circular_order(matrix: &CorrelationMatrix) -> TheoryCheck {
    let means = mean_r_by_distance(matrix);
    let falls = means.windows(2).filter(|w| w[1] < w[0]).count();
    let shown: Vec<String> = means.iter().map(|r| format!("{r:.3}")).collect();
    TheoryCheck {
        name: "circular_order".into(),
        pass: falls == means.len() - 1,
        value: means[0] - means[4],
        detail: format!(
            "mean r at 1..5 steps around the circle: {} (theory: falling); value = 1-step minus 5-step",
            shown.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::VALUE_COUNT;

    /// r = cos of the angle between the values' places on the circle: the theory's ideal.
    fn ideal_circle() -> CorrelationMatrix {
        let mut m = [[0.0; VALUE_COUNT]; VALUE_COUNT];
        for (i, a) in CIRCLE.iter().enumerate() {
            for (j, b) in CIRCLE.iter().enumerate() {
                let angle = (i as f64 - j as f64) * std::f64::consts::TAU / 10.0;
                m[a.index()][b.index()] = angle.cos();
            }
        }
        CorrelationMatrix(m)
    }

    #[test]
    fn the_ideal_circle_passes_every_check_with_the_numbers_by_hand() {
        let checks = theory_checks(&ideal_circle());
        assert!(checks.iter().all(|c| c.pass), "{checks:#?}");
        // Adjacent: cos 36° > 0 for all ten pairs.
        assert_eq!(checks[2].value, 10.0);
        // Distances 1..5 steps: cos 36°, 72°, 108°, 144°, 180°.
        let means = mean_r_by_distance(&ideal_circle());
        for (k, m) in means.iter().enumerate() {
            let expected = ((k + 1) as f64 * 36.0_f64).to_radians().cos();
            assert!((m - expected).abs() < 1e-12);
        }
        // Self-enhancement (Achievement at 3, Power at 4) vs Self-transcendence (Benevolence 8,
        // Universalism 9): Achievement–Benevolence and Power–Universalism 5 steps apart,
        // Achievement–Universalism and Power–Benevolence 4 → (2·cos180° + 2·cos144°)/4.
        let expected = (-2.0 + 2.0 * 144f64.to_radians().cos()) / 4.0;
        assert!((checks[1].value - expected).abs() < 1e-12);
    }

    #[test]
    fn all_positive_correlations_fail_the_bipolar_checks() {
        // Raw scores with strong acquiescence: everything correlates at 0.4.
        let mut m = [[0.4; VALUE_COUNT]; VALUE_COUNT];
        for (i, row) in m.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        let checks = theory_checks(&CorrelationMatrix(m));
        assert!(!checks[0].pass && !checks[1].pass);
        assert!((checks[0].value - 0.4).abs() < 1e-12);
        assert!(checks[2].pass);
        // A flat matrix does not fall with distance.
        assert!(!checks[3].pass);
    }

    #[test]
    fn a_negative_adjacent_pair_is_named() {
        let mut m = ideal_circle();
        m.0[Power.index()][Security.index()] = -0.1;
        m.0[Security.index()][Power.index()] = -0.1;
        let check = &theory_checks(&m)[2];
        assert!(!check.pass);
        assert_eq!(check.value, 9.0);
        assert!(
            check.detail.contains("Power–Security -0.100"),
            "{}",
            check.detail
        );
    }
}
