//! The database URL: `sqlite://PATH` (or a bare path) or `postgres://` / `postgresql://`, and the
//! redaction that keeps a PostgreSQL password out of every message that prints one.

use anyhow::Context;
use std::fmt;
use std::path::PathBuf;

/// File name of the default database under the user's data directory.
const DEFAULT_DATABASE_FILE: &str = "valuelab.db";
/// Seconds libpq waits for a server that does not answer (a firewalled host would otherwise hang
/// the start for the operating system's TCP timeout, about two minutes), unless the URL sets
/// its own `connect_timeout`.
const CONNECT_TIMEOUT_S: u32 = 10;

/// Where the database lives, parsed from a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// The URL as libpq reads it; `Display` and `Debug` show it with the password redacted.
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://PATH`, a bare file path, or a `postgres://` / `postgresql://` URL.
    pub fn parse(url: &str) -> anyhow::Result<DatabaseUrl> {
        let url = url.trim();
        if url.is_empty() {
            anyhow::bail!("empty database URL (expected sqlite://PATH or postgres://...)");
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.contains("://") || path == ":memory:" {
            anyhow::bail!(
                "database URL '{}' is not a database file or server (expected sqlite://PATH or \
                 postgres://USER:PASSWORD@HOST/DATABASE; an in-memory database would lose \
                 everything at exit)",
                redact(url)
            );
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// `sqlite://<data dir>/valuelab/valuelab.db` (`~/.local/share` on Linux).
    pub fn default_url() -> anyhow::Result<String> {
        let dir = dirs::data_dir().context(
            "no user data directory (HOME unset?); set --database-url or VALUELAB_DATABASE_URL",
        )?;
        Ok(format!(
            "sqlite://{}",
            dir.join("valuelab").join(DEFAULT_DATABASE_FILE).display()
        ))
    }

    /// What libpq is given: the URL with a connect timeout unless it chose one.
    pub(super) fn libpq_url(url: &str) -> String {
        if url.contains("connect_timeout=") {
            url.to_string()
        } else {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}connect_timeout={CONNECT_TIMEOUT_S}")
        }
    }

    /// `text` (a driver's message about this database) with the URL's password replaced: libpq
    /// quotes pieces of a URL it cannot parse, the password included.
    pub(super) fn scrub(&self, text: &str) -> String {
        match self {
            DatabaseUrl::Postgres(url) => match password(url) {
                Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
                _ => text.to_string(),
            },
            DatabaseUrl::Sqlite(_) => text.to_string(),
        }
    }
}

/// The file path of a SQLite database, the redacted URL of a server.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// Redacted like `Display`, so a logged settings struct never shows a password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

/// The password of `scheme://user:password@host`, if the URL has one.
fn password(url: &str) -> Option<&str> {
    let (scheme, at) = (url.find("://")?, url.rfind('@')?);
    if at < scheme {
        return None;
    }
    url[scheme + 3..at]
        .split_once(':')
        .map(|(_, secret)| secret)
}

/// Hides a password in `postgres://user:password@host` before the URL is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@'), password(url)) {
        (Some(scheme), Some(at), Some(_)) => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_sqlite_file_or_a_postgres_server() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/v.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/v.db"))
        );
        for url in [
            "postgres://me:secret@db/valuelab",
            "postgresql://me:secret@db:5433/valuelab?sslmode=require",
            "postgres:///valuelab",
        ] {
            assert_eq!(
                DatabaseUrl::parse(&format!(" {url} ")).unwrap(),
                DatabaseUrl::Postgres(url.to_string())
            );
        }
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
        assert!(DatabaseUrl::parse("  ").is_err());
        let mysql = DatabaseUrl::parse("mysql://me:secret@db/v").unwrap_err();
        assert!(mysql.to_string().contains("postgres://"), "{mysql}");
        assert!(!mysql.to_string().contains("secret"), "{mysql}");
    }

    #[test]
    fn a_postgres_password_is_never_shown() {
        let url = DatabaseUrl::parse("postgres://me:s3cr:et@db/valuelab").unwrap();
        assert_eq!(url.to_string(), "postgres://me:***@db/valuelab");
        assert!(!format!("{url:?}").contains("s3cr"), "{url:?}");
        assert_eq!(
            url.scrub("invalid percent-encoded token: \"s3cr:et\""),
            "invalid percent-encoded token: \"***\""
        );
        // nothing to hide without a password
        assert_eq!(redact("postgres://me@db/v"), "postgres://me@db/v");
        assert_eq!(redact("postgres://db/v"), "postgres://db/v");
    }

    #[test]
    fn libpq_gets_a_connect_timeout_unless_the_url_sets_one() {
        assert_eq!(
            DatabaseUrl::libpq_url("postgres://db/v"),
            format!("postgres://db/v?connect_timeout={CONNECT_TIMEOUT_S}")
        );
        assert_eq!(
            DatabaseUrl::libpq_url("postgres://db/v?sslmode=require"),
            format!("postgres://db/v?sslmode=require&connect_timeout={CONNECT_TIMEOUT_S}")
        );
        assert_eq!(
            DatabaseUrl::libpq_url("postgres://db/v?connect_timeout=3"),
            "postgres://db/v?connect_timeout=3"
        );
    }
}
