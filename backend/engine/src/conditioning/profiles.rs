//! The profiles a conditioning method learns from, tunes on and is judged on, kept apart:
//! - held out: every country of the groups file and a seeded choice of k-means groups (20 by
//!   default), never seen in training or tuning;
//! - validation: another seeded choice of k-means groups, for tuning (the steering strength)
//!   and for watching training;
//! - training: the remaining k-means groups and, when given, real respondents' own profiles
//!   (the shared ESS PVQ-21 sample), less any profile equal to a held-out or validation one.
//!
//! A name starting with `Group_` is a k-means group; any other name is a country.

use crate::data::groups::TargetGroup;
use crate::{Error, Field, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use valuelab_common::{ValueDistribution, VALUE_COUNT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileSource {
    Country,
    Group,
    Respondent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedProfile {
    pub name: String,
    pub source: ProfileSource,
    pub values: ValueDistribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitOptions {
    /// k-means groups held out with the countries.
    pub held_out_groups: usize,
    /// k-means groups kept for validation.
    pub validation_groups: usize,
    pub seed: u64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            held_out_groups: 20,
            validation_groups: 10,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSplit {
    pub train: Vec<NamedProfile>,
    pub validation: Vec<NamedProfile>,
    pub held_out: Vec<NamedProfile>,
}

pub fn is_kmeans_group(name: &str) -> bool {
    name.starts_with("Group_")
}

/// Splits the groups file's profiles and adds `respondents` (name, profile) to training.
pub fn split_profiles(
    groups: &[TargetGroup],
    respondents: &[(String, ValueDistribution)],
    options: SplitOptions,
) -> Result<ProfileSplit> {
    let named = |g: &TargetGroup, source| NamedProfile {
        name: g.name.clone(),
        source,
        values: g.values,
    };
    let mut held_out: Vec<NamedProfile> = groups
        .iter()
        .filter(|g| !is_kmeans_group(&g.name))
        .map(|g| named(g, ProfileSource::Country))
        .collect();
    let mut kmeans: Vec<NamedProfile> = groups
        .iter()
        .filter(|g| is_kmeans_group(&g.name))
        .map(|g| named(g, ProfileSource::Group))
        .collect();
    let wanted = options.held_out_groups + options.validation_groups;
    if kmeans.len() < wanted {
        return Err(Error::input(
            Field::HeldOutGroups,
            format!(
                "the groups file has {} k-means groups (named Group_N); holding out {} and validating on {} needs {wanted}: lower --held-out-groups or --validation-groups",
                kmeans.len(),
                options.held_out_groups,
                options.validation_groups
            ),
        ));
    }
    kmeans.shuffle(&mut ChaCha8Rng::seed_from_u64(options.seed));
    let rest = kmeans.split_off(wanted);
    let validation = kmeans.split_off(options.held_out_groups);
    held_out.extend(kmeans);
    let kept_apart: Vec<[f64; VALUE_COUNT]> = held_out
        .iter()
        .chain(&validation)
        .map(|p| *p.values.scores())
        .collect();
    let train: Vec<NamedProfile> = rest
        .into_iter()
        .chain(respondents.iter().map(|(name, values)| NamedProfile {
            name: name.clone(),
            source: ProfileSource::Respondent,
            values: *values,
        }))
        .filter(|p| !kept_apart.contains(p.values.scores()))
        .collect();
    if train.is_empty() {
        return Err(Error::input(
            Field::HeldOutGroups,
            "no training profiles are left after holding out: give more k-means groups or respondents",
        ));
    }
    Ok(ProfileSplit {
        train,
        validation,
        held_out,
    })
}

/// The mean training profile: conditioning methods read a profile as its difference from it.
pub fn mean_profile(profiles: &[NamedProfile]) -> [f64; VALUE_COUNT] {
    ValueDistribution::mean_scores(profiles.iter().map(|p| &p.values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, level: f64) -> TargetGroup {
        TargetGroup::flat(name, level)
    }

    fn groups() -> Vec<TargetGroup> {
        let mut g: Vec<TargetGroup> = (0..5)
            .map(|i| group(&format!("Land{i}"), 5.05 + 0.1 * i as f64))
            .collect();
        g.extend((1..=40).map(|i| group(&format!("Group_{i}"), 1.0 + 0.1 * i as f64)));
        g
    }

    #[test]
    fn countries_and_chosen_groups_are_held_out_and_never_trained_on() {
        // A respondent whose profile equals a held-out group's must not reach training.
        let copy = groups()[10].values;
        let respondents = vec![
            (
                "r1".to_string(),
                ValueDistribution::parse([2.25; 10]).unwrap(),
            ),
            ("copy".to_string(), copy),
        ];
        let options = SplitOptions {
            held_out_groups: 20,
            validation_groups: 10,
            seed: 3,
        };
        let split = split_profiles(&groups(), &respondents, options).unwrap();
        assert_eq!(split.held_out.len(), 25);
        assert_eq!(split.validation.len(), 10);
        assert!(
            split
                .held_out
                .iter()
                .filter(|p| p.source == ProfileSource::Country)
                .count()
                == 5
        );
        let held: Vec<&ValueDistribution> = split
            .held_out
            .iter()
            .chain(&split.validation)
            .map(|p| &p.values)
            .collect();
        for p in &split.train {
            assert!(!held.contains(&&p.values), "{} is held out", p.name);
        }
        let names = |ps: &[NamedProfile]| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        let train = names(&split.train);
        assert!(train.contains(&"r1".to_string()));
        let copied_held_out = held.contains(&&groups()[10].values);
        assert_eq!(train.contains(&"copy".to_string()), !copied_held_out);
        // 40 groups = 20 held out + 10 validation + 10 training (+ respondents).
        assert_eq!(
            split
                .train
                .iter()
                .filter(|p| p.source == ProfileSource::Group)
                .count(),
            10
        );
        // The same seed gives the same split; another seed another one.
        assert_eq!(
            split,
            split_profiles(&groups(), &respondents, options).unwrap()
        );
        let other =
            split_profiles(&groups(), &respondents, SplitOptions { seed: 4, ..options }).unwrap();
        assert_ne!(names(&split.held_out), names(&other.held_out));
    }

    #[test]
    fn too_few_groups_is_an_error_naming_the_fix() {
        let err = split_profiles(&groups()[..10], &[], SplitOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has 5 k-means groups") && err.contains("--held-out-groups"),
            "{err}"
        );
    }

    #[test]
    fn the_mean_profile_is_the_average_of_the_training_profiles() {
        let ps: Vec<NamedProfile> = [2.0, 4.0]
            .iter()
            .map(|&l| NamedProfile {
                name: String::new(),
                source: ProfileSource::Group,
                values: ValueDistribution::parse([l; 10]).unwrap(),
            })
            .collect();
        assert_eq!(mean_profile(&ps), [3.0; 10]);
    }
}
