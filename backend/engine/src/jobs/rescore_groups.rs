//! `valuelab groups rescore`: the authors' k-means groups (`Group_*` of `country_and_group.csv`)
//! put on the importance scale of the countries. Their scores follow the ESS's answer coding,
//! 1 = "very much like me" .. 6 = "not like me at all": the hundred groups' mean profile ranks
//! Power first and Benevolence last (3.64 and 2.07) and equals the mean raw ESS answer of the
//! shared respondents (3.65 and 2.02), while the 28 countries, like this tool's own respondent
//! scoring (`valuelab_common::pvq21`), use 7 − answer (Benevolence 4.98, Power 3.56;
//! `docs/results.md`). So `7 − score` turns a group's scores into the countries' scale. The file
//! given is read, never changed: the study's tables reproduce the paper with the file as it is.

use super::groups::GroupsOutput;
use super::progress::{JobEvent, ProgressSink};
use crate::conditioning::profiles::is_kmeans_group;
use crate::data::groups::{read_groups, write_groups, TargetGroup};
use crate::data::DataDir;
use crate::{Error, Field, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use valuelab_common::{Value, ValueDistribution, VALUE_COUNT};

/// The sum of the lowest and highest score: `REVERSE_BASE − score` mirrors the 1..6 scale.
const REVERSE_BASE: f64 = 7.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreGroups {
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The groups file to read (None: the data directory's `country_and_group.csv`).
    #[serde(default)]
    pub groups: Option<PathBuf>,
    /// The rescored groups file (the format of `country_and_group.csv` plus `Size`).
    pub out: PathBuf,
}

/// The mean score of `value` over `groups`.
fn mean_score(groups: &[&TargetGroup], value: Value) -> f64 {
    groups.iter().map(|g| g.values.score(value)).sum::<f64>() / groups.len().max(1) as f64
}

/// `group` with every score mirrored on the 1..6 scale.
pub fn reversed(group: &TargetGroup) -> Result<TargetGroup> {
    let mut scores = [0.0; VALUE_COUNT];
    for (out, score) in scores.iter_mut().zip(group.values.scores()) {
        *out = REVERSE_BASE - score;
    }
    Ok(TargetGroup {
        values: ValueDistribution::parse(scores)?,
        ..group.clone()
    })
}

impl RescoreGroups {
    pub fn run(&self, sink: &dyn ProgressSink) -> Result<GroupsOutput> {
        let path = DataDir::file_or(
            self.groups.as_deref(),
            self.data_dir.as_deref(),
            DataDir::groups_csv,
        )?;
        if path == self.out {
            return Err(Error::input(
                Field::Out,
                format!(
                    "--out {} is the groups file read: write the rescored groups to a new file",
                    self.out.display()
                ),
            ));
        }
        let groups = read_groups(&path)?;
        let (kmeans, others): (Vec<&TargetGroup>, Vec<&TargetGroup>) =
            groups.iter().partition(|g| is_kmeans_group(&g.name));
        if kmeans.is_empty() {
            return Err(Error::input(
                Field::Groups,
                format!(
                    "{} has no k-means group (a name such as Group_7): nothing to rescore",
                    path.display()
                ),
            ));
        }
        let rescored = groups
            .iter()
            .map(|g| {
                if is_kmeans_group(&g.name) {
                    reversed(g)
                } else {
                    Ok(g.clone())
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let after: Vec<&TargetGroup> = rescored
            .iter()
            .filter(|g| is_kmeans_group(&g.name))
            .collect();
        let describe = |gs: &[&TargetGroup]| {
            format!(
                "Benevolence {:.2}, Power {:.2}",
                mean_score(gs, Value::Benevolence),
                mean_score(gs, Value::Power)
            )
        };
        sink.event(&JobEvent::message(format!(
            "{} k-means groups rescored as 7 − score: mean {} before, {} after; the {} other groups (kept) have {}",
            kmeans.len(),
            describe(&kmeans),
            describe(&after),
            others.len(),
            describe(&others)
        )));
        write_groups(&self.out, &rescored)?;
        Ok(GroupsOutput {
            elbow: Vec::new(),
            written: Some(self.out.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::NullSink;

    fn group(name: &str, benevolence: f64, power: f64) -> TargetGroup {
        let mut scores = [3.0; VALUE_COUNT];
        scores[Value::Benevolence.index()] = benevolence;
        scores[Value::Power.index()] = power;
        TargetGroup {
            name: name.into(),
            values: ValueDistribution::parse(scores).unwrap(),
            size: None,
        }
    }

    #[test]
    fn k_means_groups_are_mirrored_and_countries_kept() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("groups.tsv");
        write_groups(
            &input,
            &[group("Albania", 5.2, 3.9), group("Group_3", 1.25, 2.9)],
        )
        .unwrap();
        let job = RescoreGroups {
            data_dir: None,
            groups: Some(input.clone()),
            out: dir.path().join("rescored.tsv"),
        };
        let out = job.run(&NullSink).unwrap();
        assert_eq!(out.written.as_deref(), Some(job.out.as_path()));
        let rescored = read_groups(&job.out).unwrap();
        assert_eq!(
            rescored[0],
            read_groups(&input).unwrap()[0],
            "a country is kept"
        );
        assert_eq!(rescored[1].name, "Group_3");
        assert!((rescored[1].values.score(Value::Benevolence) - 5.75).abs() < 1e-12);
        assert!((rescored[1].values.score(Value::Power) - 4.1).abs() < 1e-12);
        assert!((rescored[1].values.score(Value::Tradition) - 4.0).abs() < 1e-12);

        let same = RescoreGroups {
            out: input.clone(),
            ..job.clone()
        };
        let err = same.run(&NullSink).unwrap_err().to_string();
        assert!(
            err.contains("write the rescored groups to a new file"),
            "{err}"
        );

        write_groups(&input, &[group("Albania", 5.2, 3.9)]).unwrap();
        let err = job.run(&NullSink).unwrap_err().to_string();
        assert!(err.contains("has no k-means group"), "{err}");
    }
}
