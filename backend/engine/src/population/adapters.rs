//! VIM adapters as personas: a persona is carried by the adapter of the group whose values lie
//! nearest its profile (Euclidean distance over the ten scores). A dominant-value persona's
//! profile is its typical one (`persona::typical_profiles`), a survey respondent's their own;
//! naive personas get the untouched model. Each adapter's group and values come from the
//! `valuelab_adapter.json` that `valuelab train` writes beside it.

use crate::adapter::peft::CONFIG_FILE;
use crate::adapter::provenance;
use crate::structure::Scores;
use crate::{Error, Field, Result};
use std::path::{Path, PathBuf};
use valuelab_common::VALUE_COUNT;

#[derive(Debug, Clone, PartialEq)]
pub struct GroupAdapter {
    pub group: String,
    pub values: Scores,
    pub dir: PathBuf,
}

/// The adapters under `dir`: one adapter folder, or a folder of adapter folders (any names).
pub fn find_group_adapters(dir: &Path) -> Result<Vec<GroupAdapter>> {
    let folders: Vec<PathBuf> = if dir.join(CONFIG_FILE).is_file() {
        vec![dir.to_path_buf()]
    } else {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::input(
                Field::Adapter,
                format!("{}: cannot read the adapter folder ({e})", dir.display()),
            )
        })?;
        let mut folders: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(CONFIG_FILE).is_file())
            .collect();
        folders.sort();
        folders
    };
    if folders.is_empty() {
        return Err(Error::input(
            Field::Adapter,
            format!(
                "{}: no adapter (expected {CONFIG_FILE} in it or in its subfolders, as `valuelab train --out` leaves them)",
                dir.display()
            ),
        ));
    }
    folders
        .into_iter()
        .map(|folder| {
            let record = provenance::read(&folder)?.ok_or_else(|| {
                Error::file(
                    &folder,
                    None,
                    format!(
                        "no {} beside the adapter, so its group's values are unknown; a simulation needs adapters trained by `valuelab train`",
                        provenance::PROVENANCE_FILE
                    ),
                )
            })?;
            let values: Scores = record.values.as_slice().try_into().map_err(|_| {
                Error::file(
                    &folder,
                    None,
                    format!("{} values in its record (expected {VALUE_COUNT})", record.values.len()),
                )
            })?;
            Ok(GroupAdapter { group: record.group, values, dir: folder })
        })
        .collect()
}

/// The adapter whose group's values lie nearest `profile` (ties: the first listed).
pub fn nearest_adapter<'a>(adapters: &'a [GroupAdapter], profile: &Scores) -> &'a GroupAdapter {
    let distance = |a: &GroupAdapter| -> f64 {
        a.values
            .iter()
            .zip(profile)
            .map(|(x, y)| (x - y).powi(2))
            .sum()
    };
    adapters
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("find_group_adapters returns at least one adapter")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::provenance::AdapterProvenance;

    fn adapter(root: &Path, name: &str, values: [f64; VALUE_COUNT]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CONFIG_FILE), "{}").unwrap();
        provenance::write(
            &dir,
            &AdapterProvenance {
                group: name.to_string(),
                values: values.to_vec(),
                method: "qa".into(),
                rule: "mean".into(),
                threshold: 3.0,
                seed: 0,
                groups_file: "groups.csv".into(),
                profile_scores: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn a_profile_goes_to_the_adapter_of_the_nearest_group() {
        let root = tempfile::tempdir().unwrap();
        adapter(root.path(), "Low", [2.0; VALUE_COUNT]);
        adapter(root.path(), "High", [5.0; VALUE_COUNT]);
        std::fs::create_dir_all(root.path().join("notes")).unwrap();
        let found = find_group_adapters(root.path()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(nearest_adapter(&found, &[4.0; VALUE_COUNT]).group, "High");
        assert_eq!(nearest_adapter(&found, &[3.0; VALUE_COUNT]).group, "Low");
        // One adapter folder given directly serves every persona.
        let one = find_group_adapters(&root.path().join("Low")).unwrap();
        assert_eq!(one[0].group, "Low");
    }

    #[test]
    fn adapters_without_a_record_or_none_at_all_are_named() {
        let root = tempfile::tempdir().unwrap();
        let err = find_group_adapters(root.path()).unwrap_err().to_string();
        assert!(err.contains("no adapter"), "{err}");
        std::fs::create_dir_all(root.path().join("peft")).unwrap();
        std::fs::write(root.path().join("peft").join(CONFIG_FILE), "{}").unwrap();
        let err = find_group_adapters(root.path()).unwrap_err().to_string();
        assert!(err.contains("group's values are unknown"), "{err}");
    }
}
