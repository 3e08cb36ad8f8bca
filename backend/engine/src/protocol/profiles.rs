//! The profile tables the protocol evaluates on, written as groups files so that every run is
//! an ordinary `eval` run: the held-out groups; the same groups with their profiles shuffled
//! among them (a derangement: no group keeps its own); and the sign-check groups (the mean
//! held-out profile, then that profile with one value raised by one point, for each value).

use crate::data::groups::TargetGroup;
use crate::{Error, Field, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use valuelab_common::{ValueDistribution, ALL_VALUES, VALUE_COUNT};

/// Name of the sign check's unchanged profile.
pub const SIGN_BASE: &str = "sign_base";

/// The groups named in `names`, in that order.
pub fn pick_groups(all: &[TargetGroup], names: &[String]) -> Result<Vec<TargetGroup>> {
    names
        .iter()
        .map(|name| {
            all.iter().find(|g| &g.name == name).cloned().ok_or_else(|| {
                Error::input(
                    Field::Group,
                    format!("held-out group '{name}' is not in the groups file: use the groups file the conditioner was trained with"),
                )
            })
        })
        .collect()
}

/// Every group keeps its name and gets another group's profile (seeded): group `i` gets the
/// profile of group `shuffle_donors(groups.len(), seed)[i]`.
pub fn shuffled_profiles(groups: &[TargetGroup], seed: u64) -> Vec<TargetGroup> {
    let mut out = groups.to_vec();
    for (i, donor) in shuffle_donors(groups.len(), seed).into_iter().enumerate() {
        out[i].values = groups[donor].values;
        out[i].size = None;
    }
    out
}

/// Whose profile each of `n` groups gets in the shuffled control (seeded). Each group in a
/// shuffled order takes the next one's: a cycle, so no group keeps its own (for n ≥ 2).
pub fn shuffle_donors(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut donors = vec![0; n];
    for (k, &i) in order.iter().enumerate() {
        donors[i] = order[(k + 1) % n];
    }
    donors
}

/// The sign check's groups: [`SIGN_BASE`] (the mean profile of `groups`), then one group per
/// value in `ALL_VALUES` order with that value one point higher (at most 6), named
/// `sign_<Value>`.
pub fn sign_profiles(groups: &[TargetGroup]) -> Result<Vec<TargetGroup>> {
    if groups.is_empty() {
        return Err(Error::invalid(
            "no held-out groups to build the sign check from",
        ));
    }
    let mean = ValueDistribution::mean_scores(groups.iter().map(|g| &g.values));
    let group = |name: String, scores: [f64; VALUE_COUNT]| -> Result<TargetGroup> {
        Ok(TargetGroup {
            name,
            values: ValueDistribution::parse(scores).map_err(|e| Error::invalid(e.to_string()))?,
            size: None,
        })
    };
    let mut out = vec![group(SIGN_BASE.to_string(), mean)?];
    for value in ALL_VALUES {
        let mut raised = mean;
        raised[value.index()] = (raised[value.index()] + 1.0).min(6.0);
        out.push(group(format!("sign_{}", value.name()), raised)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<TargetGroup> {
        (0..5)
            .map(|i| TargetGroup {
                name: format!("g{i}"),
                values: ValueDistribution::parse([1.0 + i as f64; 10]).unwrap(),
                size: Some(10),
            })
            .collect()
    }

    #[test]
    fn shuffling_gives_every_group_another_groups_profile() {
        let g = groups();
        let s = shuffled_profiles(&g, 4);
        let mut donors = Vec::new();
        for (a, b) in g.iter().zip(&s) {
            assert_eq!(a.name, b.name);
            assert_ne!(a.values, b.values, "{} kept its profile", a.name);
            donors.push(b.values.scores()[0]);
        }
        donors.sort_by(f64::total_cmp);
        assert_eq!(
            donors,
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            "each profile used once"
        );
        // The donors name whose profile each group got.
        for (i, d) in shuffle_donors(g.len(), 4).into_iter().enumerate() {
            assert_ne!(i, d);
            assert_eq!(s[i].values, g[d].values);
        }
    }

    #[test]
    fn sign_groups_raise_one_value_of_the_mean_profile() {
        let s = sign_profiles(&groups()).unwrap();
        assert_eq!(s.len(), 11);
        assert_eq!(s[0].name, SIGN_BASE);
        assert_eq!(s[0].values.scores(), &[3.0; 10]);
        assert_eq!(s[3].name, "sign_Conformity");
        let mut expected = [3.0; 10];
        expected[2] = 4.0;
        assert_eq!(s[3].values.scores(), &expected);
        assert!(pick_groups(&groups(), &["g9".into()])
            .unwrap_err()
            .to_string()
            .contains("'g9'"));
    }
}
