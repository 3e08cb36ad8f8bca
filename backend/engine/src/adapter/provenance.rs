//! What an adapter injects: the target group and the training data it was made from, written by
//! `valuelab train` beside the PEFT files. PEFT's own files cannot say which group an adapter is
//! for, and evaluating an adapter against the wrong group's targets gives plausible but wrong
//! numbers, so evaluation checks this file.

use crate::output::write_atomically;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Its name inside an adapter folder.
pub const PROVENANCE_FILE: &str = "valuelab_adapter.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterProvenance {
    pub group: String,
    /// The group's ten value scores (1..6) in the fixed value order.
    pub values: Vec<f64>,
    /// `ag`, `qa` or `vim`.
    pub method: String,
    /// How argument generation labels were made: `min` or `mean`, with threshold γ.
    pub rule: String,
    pub threshold: f64,
    pub seed: u64,
    /// The groups file the group came from.
    pub groups_file: String,
}

pub fn write(adapter_dir: &Path, provenance: &AdapterProvenance) -> Result<()> {
    let path = adapter_dir.join(PROVENANCE_FILE);
    write_atomically(&path, |out| {
        serde_json::to_writer_pretty(&mut *out, provenance)
            .map_err(|e| Error::file(&path, None, format!("cannot write: {e}")))?;
        Ok(())
    })
}

/// The adapter's provenance; `None` for an adapter made elsewhere (PEFT, another tool).
pub fn read(adapter_dir: &Path) -> Result<Option<AdapterProvenance>> {
    let path = adapter_dir.join(PROVENANCE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::file(&path, None, format!("cannot read: {e}"))),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::file(&path, None, format!("not a valuelab adapter record: {e}")))
}

/// Fails when the adapter in `adapter_dir` says it was trained for a group other than `group`.
pub fn check_group(adapter_dir: &Path, group: &str) -> Result<()> {
    match read(adapter_dir)? {
        Some(p) if p.group != group => Err(Error::file(
            adapter_dir,
            None,
            format!(
                "this adapter was trained for group {} (see {PROVENANCE_FILE}), not {group}: \
                 pass the adapter of {group}, or a folder of adapter folders named by group",
                p.group
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(group: &str) -> AdapterProvenance {
        AdapterProvenance {
            group: group.to_string(),
            values: vec![3.5; 10],
            method: "vim".to_string(),
            rule: "mean".to_string(),
            threshold: 3.0,
            seed: 0,
            groups_file: "country_and_group.csv".to_string(),
        }
    }

    #[test]
    fn round_trips_and_checks_the_group() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        // An adapter without the record (made by PEFT) is accepted for any group.
        check_group(dir.path(), "Albania").unwrap();
        write(dir.path(), &record("Group_1")).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(record("Group_1")));
        check_group(dir.path(), "Group_1").unwrap();
        let err = check_group(dir.path(), "Albania").unwrap_err().to_string();
        assert!(
            err.contains("trained for group Group_1") && err.contains("not Albania"),
            "{err}"
        );
    }
}
