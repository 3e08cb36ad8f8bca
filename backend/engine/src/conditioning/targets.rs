//! What a profile-conditioned model should answer, as distributions over an item's options: the
//! KL targets of `profile-offset` training and of the steering strength chosen on validation.
//!
//! - Question answering (Table 17's prompt, options "1".."6"): the distribution of Algorithm 2's
//!   stochastic rounding of the profile's score, 5.2 → {5: 0.8, 6: 0.2}; an argument that
//!   expresses several values gets the mean of their distributions.
//! - Argument generation (Table 16's prompt): say / not say, from Algorithm 1's rule.

use crate::data::touche::Argument;
use crate::vim::{ag, Rule};
use valuelab_common::ValueDistribution;

/// Options of a question-answering item.
pub const QA_OPTIONS: usize = 6;

/// The distribution over the options 1..=6 that stochastic rounding of `score` draws from:
/// P(floor) = 1 − fraction, P(floor + 1) = fraction; scores outside 1..6 are clamped first.
pub fn rounding_distribution(score: f64) -> [f64; QA_OPTIONS] {
    let score = score.clamp(1.0, 6.0);
    let floor = score.floor();
    let fraction = score - floor;
    let mut dist = [0.0; QA_OPTIONS];
    let low = floor as usize - 1;
    dist[low] = 1.0 - fraction;
    if fraction > 0.0 {
        dist[low + 1] = fraction;
    }
    dist
}

/// The question-answering target of `argument` for `profile`: the mean rounding distribution
/// over the values the argument expresses (None when it expresses none).
pub fn qa_target(argument: &Argument, profile: &ValueDistribution) -> Option<Vec<f64>> {
    let values: Vec<_> = argument.expressed_values().collect();
    if values.is_empty() {
        return None;
    }
    let mut target = vec![0.0; QA_OPTIONS];
    for value in &values {
        for (t, p) in target
            .iter_mut()
            .zip(rounding_distribution(profile.score(*value)))
        {
            *t += p / values.len() as f64;
        }
    }
    Some(target)
}

/// The argument-generation target, [P(say), P(not say)]: the VIM label as a distribution.
pub fn ag_target(
    argument: &Argument,
    profile: &ValueDistribution,
    rule: Rule,
    threshold: f64,
) -> Option<Vec<f64>> {
    ag::would_say(argument, profile, rule, threshold).map(|say| {
        if say {
            vec![1.0, 0.0]
        } else {
            vec![0.0, 1.0]
        }
    })
}

/// KL(target ‖ model) in nats; terms with target 0 contribute nothing.
pub fn kl_divergence(target: &[f64], model: &[f64]) -> f64 {
    target
        .iter()
        .zip(model)
        .filter(|(t, _)| **t > 0.0)
        .map(|(t, m)| t * (t / m.max(f64::MIN_POSITIVE)).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::touche::Stance;
    use valuelab_common::Value;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    fn argument(values: &[Value]) -> Argument {
        let mut flags = [false; 10];
        for v in values {
            flags[v.index()] = true;
        }
        Argument {
            id: 1,
            conclusion: "We should plant trees".into(),
            stance: Stance::InFavorOf,
            premise: "trees help everyone".into(),
            values: flags,
        }
    }

    fn profile(scores: [f64; 10]) -> ValueDistribution {
        ValueDistribution::parse(scores).unwrap()
    }

    #[test]
    fn rounding_splits_the_fraction_between_the_two_neighbouring_options() {
        assert!(close(
            &rounding_distribution(5.2),
            &[0.0, 0.0, 0.0, 0.0, 0.8, 0.2]
        ));
        assert!(close(
            &rounding_distribution(4.0),
            &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        ));
        assert!(close(
            &rounding_distribution(6.0),
            &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        ));
        assert!(close(
            &rounding_distribution(1.0),
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        ));
        assert!(close(
            &rounding_distribution(1.75),
            &[0.25, 0.75, 0.0, 0.0, 0.0, 0.0]
        ));
        // Its mean is the score: the expected answer of the target is the profile's score.
        let d = rounding_distribution(3.3);
        let mean: f64 = d.iter().enumerate().map(|(i, p)| (i + 1) as f64 * p).sum();
        assert!((mean - 3.3).abs() < 1e-12);
        assert!(close(
            &rounding_distribution(7.5),
            &rounding_distribution(6.0)
        ));
    }

    #[test]
    fn qa_targets_average_the_expressed_values() {
        let mut scores = [3.0; 10];
        scores[Value::Benevolence.index()] = 5.2;
        scores[Value::Universalism.index()] = 2.5;
        let p = profile(scores);
        let one = qa_target(&argument(&[Value::Benevolence]), &p).unwrap();
        assert!(close(&one, &[0.0, 0.0, 0.0, 0.0, 0.8, 0.2]));
        let two = qa_target(&argument(&[Value::Benevolence, Value::Universalism]), &p).unwrap();
        assert!(close(&two, &[0.0, 0.25, 0.25, 0.0, 0.4, 0.1]));
        assert!((two.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(qa_target(&argument(&[]), &p).is_none());
    }

    #[test]
    fn ag_targets_follow_the_vim_rule() {
        let mut scores = [2.0; 10];
        scores[Value::Benevolence.index()] = 4.0;
        let p = profile(scores);
        let say = ag_target(&argument(&[Value::Benevolence]), &p, Rule::Min, 3.0).unwrap();
        assert_eq!(say, vec![1.0, 0.0]);
        let mixed = argument(&[Value::Benevolence, Value::Power]);
        assert_eq!(
            ag_target(&mixed, &p, Rule::Min, 3.0).unwrap(),
            vec![0.0, 1.0]
        );
        assert_eq!(
            ag_target(&mixed, &p, Rule::Mean, 3.0).unwrap(),
            vec![1.0, 0.0]
        );
        assert!(ag_target(&argument(&[]), &p, Rule::Mean, 3.0).is_none());
    }

    #[test]
    fn kl_is_zero_for_equal_distributions_and_positive_otherwise() {
        let t = [0.0, 0.8, 0.2];
        assert!(kl_divergence(&t, &t).abs() < 1e-12);
        let k = kl_divergence(&t, &[0.2, 0.4, 0.4]);
        let expected = 0.8 * (0.8f64 / 0.4).ln() + 0.2 * (0.2f64 / 0.4).ln();
        assert!((k - expected).abs() < 1e-12 && k > 0.0);
    }
}
