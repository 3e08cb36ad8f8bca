//! Loaders for the research data: the data directory (`vim/`, `ess/`, `instruments/`, see
//! `docs/data.md` for the layout), target groups, Touché23-ValueEval arguments and
//! the authors' split, ValueNet scenarios, the ESS round-6 question set, PVQ-40 items, ESS
//! microdata, the golden argument-generation labels, and annotators' judgements (`judgements`, for
//! Fleiss' kappa). `check` validates a whole directory and
//! `fetch` downloads the files the authors released unchanged.
//!
//! Every loader reports a missing or malformed file as `Error::File` with the path, the line and
//! what was expected, so a user can fix the file without reading code.

pub mod check;
pub mod dir;
pub mod ess;
pub mod fetch;
pub mod golden;
pub mod groups;
pub mod instruments;
pub mod judgements;
pub mod pvq;
pub mod table;
pub mod touche;
pub mod valuenet;

pub use check::{check, CheckStatus, DataReport, FileCheck};
pub use dir::DataDir;
pub use touche::Split;

#[cfg(test)]
pub(crate) mod testdata {
    //! Where the tests find the shared research data.
    use super::DataDir;
    use std::path::PathBuf;

    /// `VALUELAB_DATA_DIR` when set, else `../shared/data` next to the checkout.
    pub fn shared_data() -> DataDir {
        let root = std::env::var_os("VALUELAB_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
            });
        DataDir::new(&root).unwrap_or_else(|e| {
            panic!("these tests need the research data at {} (set VALUELAB_DATA_DIR to its folder): {e}", root.display())
        })
    }

    /// Writes `content` to a fresh temporary folder as `name` and returns the folder and path.
    pub fn file_with(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write fixture");
        (dir, path)
    }
}
