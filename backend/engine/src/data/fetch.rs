//! `valuelab data fetch`: download the files the authors released unchanged from their public
//! repository (dongjunKANG/VIM, commit c4f404a) into a user cache, each verified against a pinned
//! sha256 before it is put in place.
//!
//! Only files copied unchanged into the shared data can be verified this way. The question set,
//! the PVQ-40 items, the PVQ-21 key (converted from the authors' xlsx files), the golden labels
//! (extracted from hundreds of per-group files) and the ESS microdata cannot be fetched: they come
//! with a full copy of the data directory (`--data-dir`).

use super::dir::DataDir;
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The authors' repository at the commit the shared data was taken from.
pub const DEFAULT_BASE_URL: &str = "https://raw.githubusercontent.com/dongjunKANG/VIM/c4f404a/data";

/// Per-request time limit of the default agent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest file accepted (valueEval_10.csv is 1.5 MB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One file to fetch: where it lives in the authors' repository (under `data/`), where it goes in
/// the data directory, and its sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    pub remote: &'static str,
    pub local: &'static str,
    pub sha256: &'static str,
}

const fn file(remote: &'static str, local: &'static str, sha256: &'static str) -> RemoteFile {
    RemoteFile {
        remote,
        local,
        sha256,
    }
}

/// The pinned files. The sums are the sha256 of the research data's copies in `vim/`
/// (computed with `sha256sum`), which are the authors' files at c4f404a, unchanged.
#[rustfmt::skip]
pub const FILES: [RemoteFile; 25] = [
    file("country_and_group.csv", "vim/country_and_group.csv", "86189987aeaecf7c2fd25d264c8cde06bfc7614a0fc89ff61e73188d4aef4746"),
    file("valueEval_10.csv", "vim/valueEval_10.csv", "6f843d64b1874267c8fb42d67cf85533cd5847d935533ff993b5ab1345fe5385"),
    file("argument_generation/test.csv", "vim/argument_generation/test.csv", "431269d77b838fd930c3fef924d2fd2e873beb03e6f4c2aba575fcc01696f4b3"),
    file("argument_generation/value_split/train.csv", "vim/argument_generation/train.csv", "e9acd1ccfff7c1b04c0aaf016e6944effc003870075d22fbbda9f3e65109fddf"),
    file("argument_generation/value_split/valid.csv", "vim/argument_generation/valid.csv", "1c6311a7897b152647baa267157ffc747aa5368edd178cf6f0ff18d3b7ba1435"),
    file("consistency/valuenet/Achievement_negative.csv", "vim/valuenet/Achievement_negative.csv", "b50b55efa7932772df599bab9125710c47481eb7b936ff6640af795f5bb7fcaf"),
    file("consistency/valuenet/Achievement_positive.csv", "vim/valuenet/Achievement_positive.csv", "85433ae05934b3892b9fcdac26c6841151882bb615d19a78bb1f8b37c8baef20"),
    file("consistency/valuenet/Benevolence_negative.csv", "vim/valuenet/Benevolence_negative.csv", "6502c18db9518f178b88dd08f360657ec43034e3c88584a49f1c8deb5689ff44"),
    file("consistency/valuenet/Benevolence_positive.csv", "vim/valuenet/Benevolence_positive.csv", "d20109b0bd6c798b89cbc2f8c353cf3f6e8ebe72e36a6811dba6ea72c23d5347"),
    file("consistency/valuenet/Conformity_negative.csv", "vim/valuenet/Conformity_negative.csv", "6c28d4f5d4fd0343472553f702d0c3e2005def855197595c6ef93902311c9b4b"),
    file("consistency/valuenet/Conformity_positive.csv", "vim/valuenet/Conformity_positive.csv", "6f4f28512841defd5eca3d533b433001692d5f5488f8ac6c0c4aec6546fdc747"),
    file("consistency/valuenet/Hedonism_negative.csv", "vim/valuenet/Hedonism_negative.csv", "5dde430c9ee5ea5937bda96752bc362565a39f658b8e6ec0f13feaa93517160e"),
    file("consistency/valuenet/Hedonism_positive.csv", "vim/valuenet/Hedonism_positive.csv", "7e9130d55e23fde7293ef725976fcfa2462f128d3df5a276e1f4375cb5cd3645"),
    file("consistency/valuenet/Power_negative.csv", "vim/valuenet/Power_negative.csv", "8633e4189d61c4c0c1df08670855198b652acc699a63d78552a3941ba41db31a"),
    file("consistency/valuenet/Power_positive.csv", "vim/valuenet/Power_positive.csv", "88fe0de43906c445a4bd35311125d8195405b40c0c8d75c08697a83c3b3b48d0"),
    file("consistency/valuenet/Security_negative.csv", "vim/valuenet/Security_negative.csv", "1860c888744b4467fa62068681635359537e8751bead12a2543c2b30390e54e6"),
    file("consistency/valuenet/Security_positive.csv", "vim/valuenet/Security_positive.csv", "b9cdbacbce899c8cc041d65a2ad7c4f756afef9748bd323bcdaee266f749d3f4"),
    file("consistency/valuenet/Self-direction_negative.csv", "vim/valuenet/Self-direction_negative.csv", "2f7c0aba9d19ff2ca843993bf156e68092f515e0691df8b1173de51659e06102"),
    file("consistency/valuenet/Self-direction_positive.csv", "vim/valuenet/Self-direction_positive.csv", "c97700282154f7fd1b8b5cff8ea185d41b4122562fd15e7b920d70f2c2d75301"),
    file("consistency/valuenet/Stimulation_negative.csv", "vim/valuenet/Stimulation_negative.csv", "304719b1be83ab94a9bb514df6f9ebfcb5d86f1a9ce3e1e87cfd3beb7a2aa84e"),
    file("consistency/valuenet/Stimulation_positive.csv", "vim/valuenet/Stimulation_positive.csv", "8b39cd3513f097ca384e5043eb9fcc190a8f5e51636e0d5aac9a455571cf242f"),
    file("consistency/valuenet/Tradition_negative.csv", "vim/valuenet/Tradition_negative.csv", "23c04de95973c9bc34262340453bafe0e12835e9dc9bcb63ca310e027b658c1d"),
    file("consistency/valuenet/Tradition_positive.csv", "vim/valuenet/Tradition_positive.csv", "33c004814472c42dd1bb4a94ebca2a5720af862b7e4e0b7cafab3937f4b90cdd"),
    file("consistency/valuenet/Universalism_negative.csv", "vim/valuenet/Universalism_negative.csv", "edb475903dd2b75012d49acdc593dd44408e2823eb576a015c915ce8cde5752e"),
    file("consistency/valuenet/Universalism_positive.csv", "vim/valuenet/Universalism_positive.csv", "26ee9347798e8cc2592c146941abaaad92fa1da354bab3c224674b24232daa2e"),
];

/// Files of a full data directory that `fetch` cannot provide, with the reason.
pub const NOT_FETCHABLE: [(&str, &str); 6] = [
    (
        "vim/ess_round6_questions.tsv",
        "converted from the authors' data/ess/questionnaire/*.xlsx",
    ),
    (
        "vim/pvq40_items.tsv",
        "converted from the authors' data/pvq/pvq40.xlsx",
    ),
    (
        "vim/ess_pvq21_key.tsv",
        "the ESS variable names of the PVQ-21 items, not a file of the authors' repository",
    ),
    (
        "vim/golden_ag_labels_th3.tsv",
        "extracted from the authors' per-group files",
    ),
    (
        "ess/ess_pvq21_responses.csv",
        "ESS microdata (register at europeansocialsurvey.org)",
    ),
    (
        "instruments/ipip50_items.tsv",
        "public-domain IPIP items (ipip.ori.org), not a file of the authors' repository",
    ),
];

/// Where fetched files come from: the web, or (for tests and offline mirrors) a folder laid out
/// like the authors' `data/`.
pub trait Source {
    /// A human-readable location of `remote`, for messages.
    fn describe(&self, remote: &str) -> String;
    fn open(&self, remote: &str) -> Result<Box<dyn Read>>;
}

/// Downloads from `base_url/<remote path>` with `ureq`.
pub struct HttpSource {
    base_url: String,
    agent: ureq::Agent,
}

impl HttpSource {
    pub fn new(base_url: &str, timeout: Duration) -> HttpSource {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build();
        HttpSource {
            base_url: base_url.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }
}

impl Source for HttpSource {
    fn describe(&self, remote: &str) -> String {
        format!("{}/{remote}", self.base_url)
    }

    fn open(&self, remote: &str) -> Result<Box<dyn Read>> {
        let url = self.describe(remote);
        let response = self.agent.get(&url).call().map_err(|e| {
            Error::invalid(format!(
                "cannot download {url}: {e}. `valuelab data fetch` needs network access to {}; without it, pass --data-dir DIR (or set VALUELAB_DATA_DIR) pointing at a copy of the data",
                self.base_url
            ))
        })?;
        Ok(Box::new(
            response
                .into_body()
                .into_with_config()
                .limit(MAX_BYTES)
                .reader(),
        ))
    }
}

/// Copies from a local folder laid out like the authors' `data/`.
pub struct DirSource(pub std::path::PathBuf);

impl Source for DirSource {
    fn describe(&self, remote: &str) -> String {
        self.0.join(remote).display().to_string()
    }

    fn open(&self, remote: &str) -> Result<Box<dyn Read>> {
        let path = self.0.join(remote);
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::file(&path, None, format!("cannot open: {e}")))?;
        Ok(Box::new(file))
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    Downloaded,
    /// Already in place with the right checksum.
    Present,
}

/// Fetches every pinned file into `dest` (which becomes a data directory), skipping files already
/// in place. `progress` is told about each file as it is done. Stops at the first failure; files
/// already verified stay.
pub fn fetch(
    source: &dyn Source,
    dest: &Path,
    mut progress: impl FnMut(&RemoteFile, Fetched),
) -> Result<DataDir> {
    for file in &FILES {
        let target = dest.join(file.local);
        if target.is_file() && sha256_of_file(&target)? == file.sha256 {
            progress(file, Fetched::Present);
            continue;
        }
        let reader = source.open(file.remote)?;
        install_verified(reader, file.sha256, &target)
            .map_err(|e| Error::invalid(format!("{}: {e}", source.describe(file.remote))))?;
        progress(file, Fetched::Downloaded);
    }
    DataDir::new(dest)
}

/// Streams `reader` into a temporary file next to `target` while hashing it, and moves it to
/// `target` only when its sha256 is `expected`; otherwise nothing is left behind.
pub fn install_verified(mut reader: impl Read, expected: &str, target: &Path) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::file(parent, None, format!("cannot create the folder: {e}")))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| Error::file(parent, None, format!("cannot create a temporary file: {e}")))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| Error::invalid(format!("download interrupted: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        tmp.write_all(&buffer[..n])?;
    }
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        // Dropping `tmp` deletes it.
        return Err(Error::invalid(format!(
            "sha256 mismatch: got {actual}, expected {expected} (the file differs from the authors' release at c4f404a; it was not installed)"
        )));
    }
    tmp.persist(target).map_err(|e| {
        Error::file(
            target,
            None,
            format!("cannot move the verified file into place: {}", e.error),
        )
    })?;
    Ok(())
}

pub fn sha256_of_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::file(path, None, format!("cannot open: {e}")))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;

    /// A folder laid out like the authors' `data/`, made of links to the shared copies.
    fn mirror_of_shared_data() -> tempfile::TempDir {
        let shared = shared_data();
        let mirror = tempfile::tempdir().unwrap();
        for file in &FILES {
            let to = mirror.path().join(file.remote);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(shared.root().join(file.local), to).unwrap();
        }
        mirror
    }

    #[test]
    fn pinned_sums_are_those_of_the_shared_copies() {
        let shared = shared_data();
        for file in &FILES {
            assert_eq!(
                sha256_of_file(&shared.root().join(file.local)).unwrap(),
                file.sha256,
                "{}",
                file.local
            );
        }
    }

    #[test]
    fn fetch_installs_verified_files_and_skips_present_ones() {
        let mirror = mirror_of_shared_data();
        let dest = tempfile::tempdir().unwrap();
        let mut seen = Vec::new();
        let data = fetch(&DirSource(mirror.path().into()), dest.path(), |f, how| {
            seen.push((f.local, how))
        })
        .unwrap();
        assert_eq!(seen.len(), FILES.len());
        assert!(seen.iter().all(|(_, how)| *how == Fetched::Downloaded));
        assert_eq!(
            crate::data::touche::read_arguments(&data.split_csv(crate::data::Split::Train))
                .unwrap()
                .len(),
            3818
        );

        let mut again = Vec::new();
        fetch(&DirSource(mirror.path().into()), dest.path(), |_, how| {
            again.push(how)
        })
        .unwrap();
        assert!(again.iter().all(|how| *how == Fetched::Present));
    }

    #[test]
    fn a_wrong_checksum_is_rejected_and_nothing_is_left_in_place() {
        let mirror = mirror_of_shared_data();
        let tampered = mirror.path().join("valueEval_10.csv");
        let mut text = std::fs::read_to_string(&tampered).unwrap();
        text.push('\n');
        std::fs::write(&tampered, text).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let err = fetch(&DirSource(mirror.path().into()), dest.path(), |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("valueEval_10.csv: sha256 mismatch"), "{err}");
        assert!(err.contains("it was not installed"), "{err}");
        let vim = dest.path().join("vim");
        assert!(
            vim.join("country_and_group.csv").is_file(),
            "the file before it stays"
        );
        let left: Vec<_> = std::fs::read_dir(&vim)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("country_and_group.csv")]
        );
    }

    #[test]
    fn install_verified_accepts_only_the_expected_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/f.txt");
        // sha256("abc"), the FIPS 180-2 test vector.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(install_verified(&b"abd"[..], abc, &target).is_err());
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            0
        );
        install_verified(&b"abc"[..], abc, &target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "abc");
    }

    #[test]
    fn no_network_fails_with_the_data_dir_hint() {
        // Port 9 (discard) on localhost is closed here, so the connection is refused at once.
        let source = HttpSource::new("http://127.0.0.1:9/data", Duration::from_secs(5));
        let dest = tempfile::tempdir().unwrap();
        let err = fetch(&source, dest.path(), |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot download http://127.0.0.1:9/data/country_and_group.csv"),
            "{err}"
        );
        assert!(
            err.contains("pass --data-dir DIR (or set VALUELAB_DATA_DIR)"),
            "{err}"
        );
        assert!(!dest.path().join("vim").exists());
    }
}
