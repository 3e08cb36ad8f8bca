//! Finding each group's adapter for an evaluation: `--adapter DIR` is either one adapter folder
//! (`adapter_config.json`, for a run of one group) or a folder of adapter folders named by group
//! (`DIR/<group>/adapter_config.json`, as `valuelab train --out DIR/<group>` leaves them). Every
//! adapter found is checked against its provenance, so a group is never evaluated with another
//! group's adapter.

use super::peft::CONFIG_FILE;
use super::provenance;
use crate::{Error, Field, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The adapter folder of every group in `groups`, from `--adapter DIR`.
pub fn resolve_adapters(dir: &Path, groups: &[&str]) -> Result<HashMap<String, PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::file(
            dir,
            None,
            "no such adapter folder (expected the output folder of a training job)",
        ));
    }
    if dir.join(CONFIG_FILE).is_file() {
        provenance::check_one_group(dir)?;
        return match groups {
            [one] => {
                provenance::check_group(dir, one)?;
                Ok(HashMap::from([(one.to_string(), dir.to_path_buf())]))
            }
            _ => Err(Error::input(
                Field::Group,
                format!(
                    "{}: this is one adapter, for one group, but the run has {} groups: pick its group, \
                     or give a folder holding one adapter folder per group, named by group",
                    dir.display(),
                    groups.len()
                ),
            )),
        };
    }
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for &group in groups {
        let candidate = dir.join(group);
        if candidate.join(CONFIG_FILE).is_file() {
            provenance::check_group(&candidate, group)?;
            found.insert(group.to_string(), candidate);
        } else {
            missing.push(group);
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).copied().collect();
        return Err(Error::file(
            dir,
            None,
            format!(
                "no adapter for group(s) {}{} (expected {}/<group>/{CONFIG_FILE}; train one per group into {}/NAME)",
                shown.join(", "),
                if missing.len() > shown.len() { format!(" and {} more", missing.len() - shown.len()) } else { String::new() },
                dir.display(),
                dir.display()
            ),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_resolve_per_group_and_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        for g in ["Albania", "Group_3"] {
            std::fs::create_dir_all(dir.path().join(g)).unwrap();
            std::fs::write(dir.path().join(g).join(CONFIG_FILE), "{}").unwrap();
        }
        let found = resolve_adapters(dir.path(), &["Albania", "Group_3"]).unwrap();
        assert_eq!(found["Group_3"], dir.path().join("Group_3"));
        let err = resolve_adapters(dir.path(), &["Albania", "Belgium"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no adapter for group(s) Belgium"), "{err}");
        // One adapter folder serves a one-group run only.
        let single = dir.path().join("Albania");
        assert_eq!(
            resolve_adapters(&single, &["Albania"]).unwrap()["Albania"],
            single
        );
        let err = resolve_adapters(&single, &["Albania", "Group_3"]).unwrap_err();
        // The command line turns the field into "use --group NAME".
        assert_eq!(err.field(), Some(crate::Field::Group));
        assert!(err.to_string().contains("pick its group"), "{err}");
    }
}
