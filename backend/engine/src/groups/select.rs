//! Which target groups a job works on: all of a groups table, some by name, or a few that cover
//! the value space. The sample is farthest-point sampling on the ten value scores, starting from
//! the group nearest the centroid (a typical group), then repeatedly the group farthest from
//! every group already picked. Deterministic: ties go to the group listed first.

use crate::data::groups::{find_group, TargetGroup};
use crate::{Error, Field, Result};
use serde::{Deserialize, Serialize};

/// The groups of a table a job uses (serialised as `"all"`, `{"names": [..]}` or
/// `{"sample": N}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSelection {
    /// Every group of the table, in its order.
    #[default]
    All,
    /// These groups, in the order given (a name given twice counts once).
    Names(Vec<String>),
    /// N groups spread over the value space.
    Sample(usize),
}

impl GroupSelection {
    /// The selection picked from `all`; an unknown name is an error that lists the known ones.
    pub fn select(&self, all: &[TargetGroup]) -> Result<Vec<TargetGroup>> {
        match self {
            GroupSelection::All => Ok(all.to_vec()),
            GroupSelection::Names(names) => {
                let mut picked: Vec<TargetGroup> = Vec::new();
                for name in names {
                    let g = find_group(all, name)?;
                    if !picked.iter().any(|p| p.name == g.name) {
                        picked.push(g.clone());
                    }
                }
                Ok(picked)
            }
            GroupSelection::Sample(0) => Err(Error::input(
                Field::SampleGroups,
                "a sample of groups must have at least 1 group",
            )),
            GroupSelection::Sample(n) => Ok(spread_groups(all, *n)
                .into_iter()
                .map(|i| all[i].clone())
                .collect()),
        }
    }
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Indices into `groups` of `n` groups spread over the value space, in the order picked.
pub fn spread_groups(groups: &[TargetGroup], n: usize) -> Vec<usize> {
    let n = n.min(groups.len());
    if n == 0 {
        return Vec::new();
    }
    let points: Vec<&[f64]> = groups.iter().map(|g| &g.values.scores()[..]).collect();
    let dims = points[0].len();
    let centroid: Vec<f64> = (0..dims)
        .map(|d| points.iter().map(|p| p[d]).sum::<f64>() / points.len() as f64)
        .collect();
    let argbest = |score: &dyn Fn(usize) -> f64| {
        let mut best = 0;
        for i in 1..points.len() {
            if score(i) > score(best) {
                best = i;
            }
        }
        best
    };
    let first = argbest(&|i| -distance2(points[i], &centroid));
    let mut picked = vec![first];
    let mut nearest: Vec<f64> = points.iter().map(|p| distance2(p, points[first])).collect();
    while picked.len() < n {
        let next = argbest(&|i| nearest[i]);
        picked.push(next);
        for (d, p) in nearest.iter_mut().zip(&points) {
            *d = d.min(distance2(p, points[next]));
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, level: f64) -> TargetGroup {
        TargetGroup::flat(name, level)
    }

    #[test]
    fn picks_the_typical_group_then_the_extremes() {
        let groups = vec![
            group("low", 1.0),
            group("mid", 3.4),
            group("mid2", 3.6),
            group("high", 6.0),
            group("high2", 5.9),
        ];
        // Centroid 3.98: "mid2" is nearest; then "low" (farthest), then "high".
        assert_eq!(spread_groups(&groups, 3), vec![2, 0, 3]);
        assert_eq!(spread_groups(&groups, 10).len(), 5);
        assert!(spread_groups(&groups, 0).is_empty());
    }

    #[test]
    fn a_selection_picks_all_names_or_a_spread_sample() {
        let groups = vec![group("low", 1.0), group("mid", 3.5), group("high", 6.0)];
        let names = |picked: Vec<TargetGroup>| -> Vec<String> {
            picked.into_iter().map(|g| g.name).collect()
        };
        assert_eq!(names(GroupSelection::All.select(&groups).unwrap()).len(), 3);
        let by_name = GroupSelection::Names(vec!["high".into(), "low".into(), "high".into()]);
        assert_eq!(names(by_name.select(&groups).unwrap()), ["high", "low"]);
        assert_eq!(
            names(GroupSelection::Sample(2).select(&groups).unwrap()),
            ["mid", "low"]
        );
        assert!(GroupSelection::Sample(0).select(&groups).is_err());
        let unknown = GroupSelection::Names(vec!["Atlantis".into()]);
        assert!(unknown
            .select(&groups)
            .unwrap_err()
            .to_string()
            .contains("Atlantis"));
        assert_eq!(
            serde_json::to_string(&GroupSelection::Sample(8)).unwrap(),
            r#"{"sample":8}"#
        );
    }

    #[test]
    fn real_groups_sample_is_distinct_and_stable() {
        let data = crate::data::testdata::shared_data();
        let groups = crate::data::groups::read_groups(&data.groups_csv()).unwrap();
        let a = spread_groups(&groups, 8);
        assert_eq!(a, spread_groups(&groups, 8));
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 8);
    }
}
