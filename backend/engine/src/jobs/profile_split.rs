//! The profiles of the jobs that train one model for every profile (`condition`, `vim-cond`):
//! k-means groups and real ESS respondents, split into training, validation and held-out
//! profiles (`conditioning::split_profiles`: the 28 countries and 20 k-means groups held out).
//! Each job writes the split to `split.json`, which `valuelab protocol` reads for its held-out
//! profiles; the same options and seed give the same split in every job.

use super::progress::{JobEvent, ProgressSink};
use crate::conditioning::{
    split_profiles, NamedProfile, ProfileSource, ProfileSplit, SplitOptions,
};
use crate::data::ess::read_pvq21_key;
use crate::data::groups::read_groups;
use crate::data::DataDir;
use crate::output::{read_json, write_json};
use crate::structure::read_ess_sample;
use crate::{Error, Field, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SPLIT_FILE: &str = "split.json";

/// Where the profiles come from and how many are kept apart; flattened into the job specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSources {
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Groups file (default: the data directory's country_and_group.csv).
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    /// ESS respondents whose own PVQ-21 profiles join training (default: the data directory's
    /// ess_pvq21_responses.csv); `no_respondents` trains on k-means groups alone.
    #[serde(default)]
    pub respondents: Option<PathBuf>,
    #[serde(default)]
    pub no_respondents: bool,
    #[serde(default = "default_held_out")]
    pub held_out_groups: usize,
    #[serde(default = "default_validation")]
    pub validation_groups: usize,
}

fn default_held_out() -> usize {
    SplitOptions::default().held_out_groups
}
fn default_validation() -> usize {
    SplitOptions::default().validation_groups
}

/// Which profile went where; respondents are counted, not listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitRecord {
    pub held_out: Vec<String>,
    pub validation: Vec<String>,
    pub train_groups: Vec<String>,
    pub train_respondents: usize,
    pub options: SplitOptions,
}

impl SplitRecord {
    fn new(split: &ProfileSplit, options: SplitOptions) -> Self {
        let names = |ps: &[NamedProfile]| ps.iter().map(|p| p.name.clone()).collect();
        Self {
            held_out: names(&split.held_out),
            validation: names(&split.validation),
            train_groups: split
                .train
                .iter()
                .filter(|p| p.source != ProfileSource::Respondent)
                .map(|p| p.name.clone())
                .collect(),
            train_respondents: split
                .train
                .iter()
                .filter(|p| p.source == ProfileSource::Respondent)
                .count(),
            options,
        }
    }

    /// Writes `split.json` into the job's output folder (created if needed).
    pub fn write(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out).context(|| format!("cannot create {}", out.display()))?;
        write_json(&out.join(SPLIT_FILE), self)
    }

    /// Reads a `split.json`, or the one in a conditioner's folder; the error names the commands
    /// that write one.
    pub fn read(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join(SPLIT_FILE)
        } else {
            path.to_path_buf()
        };
        read_json(&file, "profile split").map_err(|e| {
            Error::input(Field::Adapter, format!("{e}; give the folder of `valuelab train --method vim-cond|profile-offset|steer|profile-readout` (it writes {SPLIT_FILE})"))
        })
    }
}

impl ProfileSources {
    /// The split (seeded by `seed`) and its record; reports the counts to `sink`.
    pub fn split(
        &self,
        data: &DataDir,
        seed: u64,
        sink: &dyn ProgressSink,
    ) -> Result<(ProfileSplit, SplitRecord)> {
        let groups_path = self
            .groups_file
            .clone()
            .unwrap_or_else(|| data.groups_csv());
        let groups = read_groups(&groups_path)
            .context(|| format!("cannot read groups {}", groups_path.display()))?;
        let respondents = if self.no_respondents {
            Vec::new()
        } else {
            let path = self
                .respondents
                .clone()
                .unwrap_or_else(|| data.ess_responses_csv());
            let key = read_pvq21_key(&data.ess_pvq21_key_tsv())?;
            let sample = read_ess_sample(&path, &key).map_err(|e| {
                Error::input(Field::Respondents, format!("{}: {e}", path.display()))
            })?;
            sample
                .respondent_groups()
                .into_iter()
                .map(|g| (g.name, g.values))
                .collect()
        };
        let options = SplitOptions {
            held_out_groups: self.held_out_groups,
            validation_groups: self.validation_groups,
            seed,
        };
        let split = split_profiles(&groups, &respondents, options)?;
        let record = SplitRecord::new(&split, options);
        sink.event(&JobEvent::message(format!(
            "profiles: {} training ({} respondents), {} validation, {} held out",
            split.train.len(),
            record.train_respondents,
            split.validation.len(),
            split.held_out.len()
        )));
        Ok((split, record))
    }
}
