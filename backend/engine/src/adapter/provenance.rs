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

/// The `method` of an adapter trained for every profile, each read from the prompt (`vim-cond`).
pub const PROFILE_IN_PROMPT_METHOD: &str = "vim-cond";
/// Its `group`: no single group.
pub const ANY_PROFILE: &str = "any profile";
/// Its `profile_scores`: how the prompt printed the profile's scores in training, which is how
/// evaluation prints them (`eval::persona`).
pub const TWO_DECIMALS: &str = "two decimals";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterProvenance {
    pub group: String,
    /// The group's ten value scores (1..6) in the fixed value order.
    pub values: Vec<f64>,
    /// `ag`, `qa` or `vim` (one group), or `vim-cond` (every profile, with `values` the mean
    /// training profile).
    pub method: String,
    /// How argument generation labels were made: `min` or `mean`, with threshold γ.
    pub rule: String,
    pub threshold: f64,
    pub seed: u64,
    /// The groups file the group came from.
    pub groups_file: String,
    /// `vim-cond` only: how its training prompts printed the scores (`two decimals`). Absent
    /// in the records of `vim-cond` adapters trained before the prompt took two decimals (they
    /// read the authors' form, seventeen digits for a k-means group's mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_scores: Option<String>,
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

/// Fails when the adapter in `adapter_dir` was trained for every profile (`vim-cond`): it has
/// no group's values in its weights.
pub fn check_one_group(adapter_dir: &Path) -> Result<()> {
    match read(adapter_dir)? {
        Some(p) if p.method == PROFILE_IN_PROMPT_METHOD => Err(Error::file(
            adapter_dir,
            None,
            "this adapter was trained for every profile, read from the prompt (vim-cond): evaluate it with --method vim-cond",
        )),
        _ => Ok(()),
    }
}

/// Fails when the adapter in `adapter_dir` says it was trained for a group other than `group`.
pub fn check_group(adapter_dir: &Path, group: &str) -> Result<()> {
    check_one_group(adapter_dir)?;
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

/// Fails when the adapter in `adapter_dir` says it holds one group's values, so it cannot read a
/// profile from the prompt (`vim-cond`). An adapter made elsewhere (no record) is accepted.
/// Returns a warning for a `vim-cond` adapter trained on scores printed otherwise than the
/// prompt prints them now.
pub fn check_profile_conditioned(adapter_dir: &Path) -> Result<Option<String>> {
    match read(adapter_dir)? {
        Some(p)
            if p.method == PROFILE_IN_PROMPT_METHOD
                && p.profile_scores.as_deref() != Some(TWO_DECIMALS) =>
        {
            Ok(Some(format!(
                "{}: this vim-cond adapter was trained with the scores printed in the authors' form \
                 (seventeen digits for a k-means group's mean); the prompt now prints them with two \
                 decimals, so its answers for such profiles may differ from what it learnt: train it \
                 again with `valuelab train --method vim-cond`",
                adapter_dir.display()
            )))
        }
        Some(p) if p.method != PROFILE_IN_PROMPT_METHOD => Err(Error::file(
            adapter_dir,
            None,
            format!(
                "this adapter holds the values of group {} (method {}), not a reader of profiles: \
                 evaluate it with --method {}, or train one with `valuelab train --method vim-cond`",
                p.group,
                p.method,
                match p.method.as_str() {
                    "ag" => "vim-ag",
                    "qa" => "vim-qa",
                    _ => "vim",
                }
            ),
        )),
        _ => Ok(None),
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
            profile_scores: None,
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
        let err = check_profile_conditioned(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("group Group_1 (method vim)") && err.contains("--method vim,"),
            "{err}"
        );
    }

    #[test]
    fn a_vim_cond_adapter_serves_every_profile_and_no_single_group_method() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_profile_conditioned(dir.path()).unwrap(), None);
        let mut record = AdapterProvenance {
            group: ANY_PROFILE.into(),
            method: PROFILE_IN_PROMPT_METHOD.into(),
            ..record("x")
        };
        // A record from before the two-decimal prompt is served with a warning.
        write(dir.path(), &record).unwrap();
        let warning = check_profile_conditioned(dir.path()).unwrap().unwrap();
        assert!(warning.contains("train it again"), "{warning}");
        record.profile_scores = Some(TWO_DECIMALS.into());
        write(dir.path(), &record).unwrap();
        assert_eq!(check_profile_conditioned(dir.path()).unwrap(), None);
        let text = std::fs::read_to_string(dir.path().join(PROVENANCE_FILE)).unwrap();
        assert!(
            text.contains("\"profile_scores\": \"two decimals\""),
            "{text}"
        );
        let err = check_group(dir.path(), "Albania").unwrap_err().to_string();
        assert!(err.contains("--method vim-cond"), "{err}");
    }
}
