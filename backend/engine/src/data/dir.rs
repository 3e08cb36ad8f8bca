//! The data directory: the folder holding `vim/`, `ess/` and `instruments/`, with one path helper
//! per file so no other module spells the layout.

use super::touche::Split;
use crate::{Error, Field, Result};
use std::path::{Path, PathBuf};

/// Environment variable read by the CLI (through clap) for `--data-dir`.
pub const DATA_DIR_ENV: &str = "VALUELAB_DATA_DIR";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `path`; it must contain a `vim/` folder.
    pub fn new(path: impl AsRef<Path>) -> Result<DataDir> {
        let root = path.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::input(
                Field::DataDir,
                format!(
                    "{}: no such folder (the data directory, named by the job or {DATA_DIR_ENV}, is the folder that holds vim/; `valuelab data fetch` downloads one)",
                    root.display()
                ),
            ));
        }
        if !root.join("vim").is_dir() {
            return Err(Error::input(
                Field::DataDir,
                format!(
                    "{}: not a data directory: it has no vim/ folder (the data directory is the folder that holds vim/, ess/ and instruments/; `valuelab data fetch` downloads one)",
                    root.display()
                ),
            ));
        }
        Ok(DataDir { root })
    }

    /// The data directory to use: `explicit` (from `--data-dir` or `VALUELAB_DATA_DIR`) when
    /// given, else the download cache of `valuelab data fetch` when it holds data.
    pub fn resolve(explicit: Option<&Path>) -> Result<DataDir> {
        if let Some(path) = explicit {
            return DataDir::new(path);
        }
        if let Some(cache) = default_cache_dir() {
            if cache.join("vim").is_dir() {
                return DataDir::new(cache);
            }
        }
        Err(Error::input(Field::DataDir, format!(
            "no data directory: name the folder that holds vim/, ess/ and instruments/, or run `valuelab data fetch` to download the authors' files{}",
            default_cache_dir().map(|c| format!(" into {}", c.display())).unwrap_or_default()
        )))
    }

    /// A file a job may name itself or leave to the research data: `explicit` when given, else
    /// `default` of the data directory `data_dir` resolves to (which is resolved only then).
    pub fn file_or(
        explicit: Option<&Path>,
        data_dir: Option<&Path>,
        default: impl FnOnce(&DataDir) -> PathBuf,
    ) -> Result<PathBuf> {
        match explicit {
            Some(path) => Ok(path.to_path_buf()),
            None => Ok(default(&DataDir::resolve(data_dir)?)),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn vim(&self, name: &str) -> PathBuf {
        self.root.join("vim").join(name)
    }

    /// The 128 target groups (`vim/country_and_group.csv`).
    pub fn groups_csv(&self) -> PathBuf {
        self.vim("country_and_group.csv")
    }

    /// All 7,374 Touché23-ValueEval arguments (`vim/valueEval_10.csv`).
    pub fn arguments_csv(&self) -> PathBuf {
        self.vim("valueEval_10.csv")
    }

    /// One file of the authors' split (`vim/argument_generation/{train,valid,test}.csv`).
    pub fn split_csv(&self, split: Split) -> PathBuf {
        self.vim("argument_generation").join(split.file_name())
    }

    /// The folder of the 20 ValueNet files.
    pub fn valuenet_dir(&self) -> PathBuf {
        self.vim("valuenet")
    }

    pub fn ess_questions_tsv(&self) -> PathBuf {
        self.vim("ess_round6_questions.tsv")
    }

    pub fn pvq40_items_tsv(&self) -> PathBuf {
        self.vim("pvq40_items.tsv")
    }

    pub fn ess_pvq21_key_tsv(&self) -> PathBuf {
        self.vim("ess_pvq21_key.tsv")
    }

    pub fn golden_ag_labels_tsv(&self) -> PathBuf {
        self.vim("golden_ag_labels_th3.tsv")
    }

    /// Real ESS respondents' PVQ-21 answers (`ess/ess_pvq21_responses.csv`).
    pub fn ess_responses_csv(&self) -> PathBuf {
        self.root.join("ess").join("ess_pvq21_responses.csv")
    }

    /// The IPIP Big-Five items (`instruments/ipip50_items.tsv`).
    /// The whole-country ESS samples with values and opinions (`ess/microdata/*.csv`), sorted by
    /// file name.
    pub fn ess_microdata_files(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("ess").join("microdata");
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Error::file(&dir, None, format!("cannot list the ESS microdata: {e} (the data directory's README says where these files come from)"))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::file(&dir, None, "no ESS microdata (*.csv) here"));
        }
        Ok(files)
    }

    pub fn ipip50_items_tsv(&self) -> PathBuf {
        self.root.join("instruments").join("ipip50_items.tsv")
    }
}

/// Where `valuelab data fetch` puts the data by default: `<user cache>/valuelab/data`.
pub fn default_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|c| c.join("valuelab").join("data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_vim_is_rejected_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = DataDir::new(dir.path()).unwrap_err();
        assert_eq!(err.field(), Some(Field::DataDir));
        let err = err.to_string();
        assert!(
            err.contains("no vim/ folder") && err.contains("valuelab data fetch"),
            "{err}"
        );
        let err = DataDir::resolve(Some(&dir.path().join("missing")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no such folder") && err.contains("VALUELAB_DATA_DIR"),
            "{err}"
        );

        std::fs::create_dir(dir.path().join("vim")).unwrap();
        let data = DataDir::resolve(Some(dir.path())).unwrap();
        assert_eq!(data.root(), dir.path());
        assert_eq!(
            data.split_csv(Split::Valid),
            dir.path().join("vim/argument_generation/valid.csv")
        );
        assert_eq!(
            data.ess_responses_csv(),
            dir.path().join("ess/ess_pvq21_responses.csv")
        );
    }
}
