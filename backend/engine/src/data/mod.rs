//! Loaders for the research data: the data directory (`vim/`, `ess/`, `instruments/`, see
//! `/work/shared/data/README.md` for the layout), target groups, Touché23-ValueEval arguments and
//! the authors' split, ValueNet scenarios, the ESS round-6 question set, PVQ-40 items, ESS
//! microdata, and the golden argument-generation labels. `check` validates a whole directory and
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
pub mod pvq;
pub mod table;
pub mod touche;
pub mod valuenet;

pub use check::{check, CheckStatus, DataReport, FileCheck};
pub use dir::DataDir;
pub use touche::Split;

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes a file so that readers see either the old content or the complete new one: the bytes go
/// to a temporary file in the same folder, which is renamed over `path` only after `write`
/// succeeded. A crash or an error leaves no half-written file behind.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::file(parent, None, format!("cannot create the folder: {e}")))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| Error::file(parent, None, format!("cannot create a temporary file: {e}")))?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut buffered)?;
        buffered
            .flush()
            .map_err(|e| Error::file(path, None, format!("cannot write: {e}")))?;
    }
    // Temporary files are private (0600); the finished file gets the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::file(path, None, format!("cannot set permissions: {e}")))?;
    }
    tmp.persist(path).map_err(|e| {
        Error::file(
            path,
            None,
            format!("cannot move the finished file into place: {}", e.error),
        )
    })?;
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_nothing_behind_when_the_writer_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(Error::invalid("boom"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        write_atomically(&path, |w| Ok(w.write_all(b"whole")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
