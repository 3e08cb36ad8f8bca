//! How the engine writes files, in one place: whole files atomically (readers see the old content
//! or the complete new one, never half), append-only JSON-lines logs that survive a crash (a line
//! cut short is dropped on the next open), UTC timestamps for run records, and the stable hash
//! that turns names into seeds. A leaf module: it uses nothing else of the engine but its error.

use crate::{Error, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// `value` as pretty JSON with a final newline, written atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")?;
        Ok(())
    })
}

/// Reads a JSON file holding `what` ("job spec"); errors name the file, the line where known,
/// and what it should have been.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, None, format!("cannot read the {what}: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(path, Some(e.line()), format!("not a valuelab {what}: {e}")))
}

/// An append-only JSON-lines file, flushed after every line so a killed process keeps every
/// line it finished.
pub struct JsonlLog {
    file: File,
    path: PathBuf,
}

impl JsonlLog {
    /// Opens `path` for appending (`append`), or empties it first (`!append`). When appending, a
    /// last line left incomplete by a crash is cut off so the next line starts on its own.
    pub fn open(path: &Path, append: bool) -> Result<Self> {
        let err =
            |e: std::io::Error| Error::file(path, None, format!("cannot open for appending: {e}"));
        if append && path.exists() {
            let bytes = std::fs::read(path).map_err(err)?;
            if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
                let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                let file = OpenOptions::new().write(true).open(path).map_err(err)?;
                file.set_len(keep as u64).map_err(err)?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(err)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends `value` as one line and flushes it.
    pub fn append<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let line = serde_json::to_string(value)?;
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::file(&self.path, None, format!("cannot append: {e}")))
    }

    /// Makes the appended lines durable (end of a run).
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::file(&self.path, None, format!("cannot write: {e}")))
    }
}

/// The values of a JSON-lines file. A missing file has none; a last line cut short by a crash is
/// skipped; a broken line elsewhere is an error that names its line, with `explain`'s message
/// (what a line should be and how to recover).
pub fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    explain: &dyn Fn(serde_json::Error) -> String,
) -> Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file =
        File::open(path).map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<std::io::Result<_>>()?;
    let last = lines.len();
    let mut values = Vec::with_capacity(last);
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(line) {
            Ok(v) => values.push(v),
            Err(_) if n + 1 == last => {}
            Err(e) => return Err(Error::file(path, Some(n + 1), explain(e))),
        }
    }
    Ok(values)
}

/// The current time as RFC 3339 UTC ("2024-05-01T12:00:00Z"), for run records.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// Seconds since 1970 as RFC 3339 UTC, to the second.
pub fn format_utc(secs: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_string())
}

/// FNV-1a of `text`: a hash that stays the same across builds and platforms (std's does not
/// promise it), so a seed derived from a name picks the same examples everywhere.
pub fn stable_hash(text: &str) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// The content of every `<text>` element of an SVG, trimmed: what a plot's tests read.
#[cfg(test)]
pub(crate) fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|s| {
            Some(
                s.split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_string(),
            )
        })
        .collect()
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

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1709251199` → Thu Feb 29 23:59:59 UTC 2024 (a leap day).
        assert_eq!(format_utc(1_709_251_199), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn stable_hash_is_fnv1a_64() {
        // The FNV-1a reference values (offset basis for "", and "a" from the FNV test suite).
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_log_cut_mid_line_by_a_crash_is_mended_on_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut log = JsonlLog::open(&path, true).unwrap();
        log.append(&1).unwrap();
        log.append(&2).unwrap();
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        write!(f, "{{\"half").unwrap();
        drop(f);
        assert_eq!(
            read_jsonl::<u32>(&path, &|e| format!("not a number ({e})")).unwrap(),
            [1, 2]
        );
        JsonlLog::open(&path, true).unwrap().append(&3).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n3\n");
        JsonlLog::open(&path, false).unwrap().append(&4).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4\n");
    }
}
