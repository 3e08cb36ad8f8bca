//! The database: a pool of diesel connections and the migrations that run when it opens.
//! SQLite is the default (one file under the user's data directory, WAL so readers never wait
//! for the writer); `--database-url` / `VALUELAB_DATABASE_URL` chooses another file.
//! diesel is synchronous: request handlers call it inside `web::block` (see `routes`).

pub mod models;
pub mod schema;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The connection every query runs on.
pub type Db = SqliteConnection;
pub type DbPool = Pool<ConnectionManager<Db>>;
pub type PooledDb = PooledConnection<ConnectionManager<Db>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Environment variable naming the database (the `--database-url` flag wins over it).
pub const ENV_DATABASE_URL: &str = "VALUELAB_DATABASE_URL";
/// File name of the default database under the user's data directory.
const DEFAULT_DATABASE_FILE: &str = "valuelab.db";
/// Connections in the pool: readers run in parallel under WAL; SQLite serialises the writers.
const POOL_SIZE: u32 = 8;
/// How long a writer waits for another writer's lock before SQLite gives up (busy_timeout, ms).
/// Long enough for a burst of 100 annotators on 2 cores (docs/annotation.md, load test).
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Where the database lives, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// `sqlite://PATH` or a bare file path. PostgreSQL URLs are recognised and refused with a
    /// clear message until the PostgreSQL backend lands.
    pub fn parse(url: &str) -> anyhow::Result<DatabaseUrl> {
        let url = url.trim();
        if url.is_empty() {
            anyhow::bail!("empty database URL (expected sqlite://PATH)");
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            anyhow::bail!(
                "database URL '{}': PostgreSQL is not supported by this build yet; use sqlite://PATH",
                redact(url)
            );
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.contains("://") || path == ":memory:" {
            anyhow::bail!(
                "database URL '{url}' is not a database file (expected sqlite://PATH; an in-memory \
                 database would lose everything at exit)"
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
}

/// Hides a password in `postgres://user:password@host` before the URL is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Per-connection SQLite settings: WAL (set once per file, harmless to repeat), a busy timeout so
/// concurrent writers queue instead of failing, and foreign keys, which SQLite leaves off.
/// `synchronous = NORMAL` under WAL loses nothing when the process is killed, only on power loss.
#[derive(Debug, Clone, Copy)]
struct SqliteSettings;

impl CustomizeConnection<Db, diesel::r2d2::Error> for SqliteSettings {
    fn on_acquire(&self, conn: &mut Db) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens (creating the file and its folder on first start) and migrates the database.
pub fn open(url: &str) -> anyhow::Result<DbPool> {
    let DatabaseUrl::Sqlite(path) = DatabaseUrl::parse(url)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create the database folder {} (choose another with --database-url)",
                parent.display()
            )
        })?;
    }
    let pool = Pool::builder()
        .max_size(POOL_SIZE)
        .connection_customizer(Box::new(SqliteSettings))
        .build(ConnectionManager::<Db>::new(path_str(&path)?))
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    let mut conn = pool.get().context("no database connection")?;
    conn.run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migrating the database {}: {e}", path.display()))?;
    Ok(pool)
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("database path {} is not UTF-8", path.display()))
}

/// Seconds since the Unix epoch (the database's time unit).
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// Milliseconds since the Unix epoch (leases and judgement times).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;

    #[test]
    fn urls_name_a_sqlite_file_or_are_refused_with_the_fix() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/v.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/v.db"))
        );
        let pg = DatabaseUrl::parse("postgres://me:secret@db/valuelab").unwrap_err();
        assert!(pg.to_string().contains("me:***@db"), "{pg}");
        assert!(!pg.to_string().contains("secret"), "{pg}");
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
        assert!(DatabaseUrl::parse("  ").is_err());
    }

    #[test]
    fn opening_creates_the_file_migrates_it_and_turns_on_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/valuelab.db");
        let pool = open(&format!("sqlite://{}", path.display())).unwrap();
        assert!(path.is_file());
        let mut conn = pool.get().unwrap();
        #[derive(QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
        // every table of schema.rs exists with the columns it names
        use schema::*;
        users::table
            .select(users::all_columns)
            .load::<models::User>(&mut conn)
            .unwrap();
        studies::table
            .select(studies::all_columns)
            .load::<models::Study>(&mut conn)
            .unwrap();
        study_items::table
            .select(study_items::all_columns)
            .load::<models::StudyItem>(&mut conn)
            .unwrap();
        assignments::table
            .select(assignments::all_columns)
            .load::<models::Assignment>(&mut conn)
            .unwrap();
        judgements::table
            .select(judgements::all_columns)
            .load::<models::Judgement>(&mut conn)
            .unwrap();
        invites::table
            .select(invites::all_columns)
            .load::<models::Invite>(&mut conn)
            .unwrap();
        sessions::table
            .select(sessions::all_columns)
            .load::<models::Session>(&mut conn)
            .unwrap();
        // a second open of the same file finds nothing left to migrate
        drop(conn);
        drop(pool);
        open(&format!("sqlite://{}", path.display())).unwrap();
    }
}
