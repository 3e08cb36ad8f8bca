//! The database: a pool of diesel connections and the migrations that run when it opens.
//! SQLite is the default (one file under the user's data directory, WAL so readers never wait
//! for the writer); `--database-url` / `VALUELAB_DATABASE_URL` chooses another file or a
//! PostgreSQL server (`postgres://`). Every query is written once against [`Db`], diesel's
//! connection over both; this module is the one place that knows how the two differ: how a
//! connection is opened and set up, which migrations folder applies, and how a write transaction
//! takes the database's write lock.
//! diesel is synchronous: request handlers call it inside `web::block` (see `routes`).

pub mod models;
pub mod schema;
mod url;

pub use url::{redact, DatabaseUrl};

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{ConnectionResult, QueryResult};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The connection every query runs on: diesel generates the backend that admits the SQL both
/// databases share (no `RETURNING`; an inserted row is read back in the same transaction).
#[derive(diesel::MultiConnection)]
pub enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type DbPool = Pool<DbManager>;
pub type PooledDb = PooledConnection<DbManager>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Environment variable naming the database (the `--database-url` flag wins over it).
pub const ENV_DATABASE_URL: &str = "VALUELAB_DATABASE_URL";
/// Connections in the pool: readers run in parallel (WAL, or PostgreSQL's MVCC); the writers
/// queue on one lock either way (see [`write_locked_transaction`]).
const POOL_SIZE: u32 = 8;
/// Idle PostgreSQL connections kept open. Each one is a server process, so they are opened as
/// load needs them, not all at start: several servers (or a test suite's many apps) then stay
/// under the server's `max_connections` (100 by default). SQLite opens all of them at start.
const POSTGRES_MIN_IDLE: u32 = 1;
/// How long a writer waits for another writer's lock before SQLite gives up (busy_timeout, ms).
/// Long enough for a burst of 100 annotators on 2 cores (docs/annotation.md, load test).
const BUSY_TIMEOUT_MS: u32 = 10_000;
/// The PostgreSQL advisory lock every write transaction takes: the bytes of "valuelab".
/// Advisory locks belong to one database, so other databases on the server never wait for it.
const POSTGRES_WRITE_LOCK: i64 = 0x7661_6c75_656c_6162;

/// Opens connections of the backend the URL names. (diesel's derived `Db::establish` tries
/// each backend in turn and drops their errors; this reports the driver's reason.)
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
}

impl DbManager {
    fn establish(&self) -> ConnectionResult<Db> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    diesel::ConnectionError::InvalidConnectionUrl(format!(
                        "database path {} is not UTF-8",
                        path.display()
                    ))
                })?;
                SqliteConnection::establish(path).map(Db::Sqlite)
            }
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(&DatabaseUrl::libpq_url(url)).map(Db::Postgres)
            }
        }
    }
}

impl ManageConnection for DbManager {
    type Connection = Db;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Db, Self::Error> {
        self.establish()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut Db) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Db) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Per-connection settings, run on every connection the pool opens.
#[derive(Debug, Clone, Copy)]
struct ConnectionSettings;

impl ConnectionSettings {
    /// SQLite: WAL (set once per file, harmless to repeat), a busy timeout so concurrent writers
    /// queue instead of failing, and foreign keys, which SQLite leaves off. `synchronous =
    /// NORMAL` under WAL loses nothing when the process is killed, only on power loss.
    /// PostgreSQL's defaults already give all of this.
    fn apply(conn: &mut Db) -> QueryResult<()> {
        match conn {
            Db::Sqlite(conn) => conn.batch_execute(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
            )),
            Db::Postgres(_) => Ok(()),
        }
    }
}

impl CustomizeConnection<Db, diesel::r2d2::Error> for ConnectionSettings {
    fn on_acquire(&self, conn: &mut Db) -> Result<(), diesel::r2d2::Error> {
        ConnectionSettings::apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens (creating a SQLite file and its folder on first start) and migrates the database.
/// A PostgreSQL server that is down, or a wrong URL or password, fails here with the driver's
/// reason and the URL with its password redacted.
pub fn open(url: &str) -> anyhow::Result<DbPool> {
    let url = DatabaseUrl::parse(url)?;
    let min_idle = match &url {
        DatabaseUrl::Sqlite(path) => {
            create_parent(path)?;
            None
        }
        DatabaseUrl::Postgres(_) => Some(POSTGRES_MIN_IDLE),
    };
    let manager = DbManager { url: url.clone() };
    // One connection of our own first: the pool would retry a failing server for its whole
    // timeout (30 s) and keep only a vague last error.
    let mut conn = manager.establish().map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database {url}: {} (check the URL, and that the server runs and \
             accepts this user)",
            url.scrub(&one_line(&e.to_string()))
        )
    })?;
    ConnectionSettings::apply(&mut conn)
        .with_context(|| format!("setting up the database {url}"))?;
    migrate(&mut conn).map_err(|e| {
        anyhow::anyhow!(
            "migrating the database {url}: {}",
            url.scrub(&e.to_string())
        )
    })?;
    drop(conn);
    Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(min_idle)
        .connection_customizer(Box::new(ConnectionSettings))
        .build(manager)
        .with_context(|| format!("cannot open the database {url}"))
}

/// A driver's message on one line, repeats dropped: libpq writes a hint on a line of its own, and
/// a line per attempt (with SSL, then without) that usually say the same.
fn one_line(message: &str) -> String {
    let mut lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines.dedup();
    lines.join(" ")
}

fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create the database folder {} (choose another with --database-url)",
                parent.display()
            )
        })?;
    }
    Ok(())
}

/// Runs the migrations of the connection's backend that have not run yet.
fn migrate(conn: &mut Db) -> diesel::migration::Result<()> {
    match conn {
        Db::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
        Db::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop),
    }
}

/// Runs `work` in one transaction that holds the database's write lock from its start, rolled
/// back on any error of `work`. A transaction that reads and then writes (handing out an item)
/// thus never has its read overtaken by another writer, in this process or another.
/// - SQLite: `BEGIN IMMEDIATE` takes the file's write lock up front.
/// - PostgreSQL: a plain (read committed) transaction whose first statement takes a
///   transaction-scoped advisory lock. Every statement after it sees all that earlier writers
///   committed, and the writers of a second server on the same database queue behind it
///   rather than racing.
///   Serializable isolation would be as safe but fails the loser of a race (SQLSTATE 40001),
///   which would need a retry loop around every handler; waiting on the lock needs none.
pub fn write_locked_transaction<T, E>(
    conn: &mut Db,
    work: impl FnOnce(&mut Db) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Manager = <Db as Connection>::TransactionManager;
    if let Db::Sqlite(sqlite) = conn {
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    } else {
        Manager::begin_transaction(conn)?;
    }
    let result = match conn {
        Db::Postgres(pg) => pg
            .batch_execute(&format!(
                "SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})"
            ))
            .map_err(E::from),
        Db::Sqlite(_) => Ok(()),
    }
    .and_then(|()| work(conn));
    // as diesel's own `Connection::transaction` ends one
    match result {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Runs an insert of many rows in one statement, `insert_into(t).values(&rows)`. `Db`'s own
/// backend admits no such insert (SQLite and PostgreSQL spell a missing value differently), so
/// the statement runs on the backend's connection itself.
pub fn batch_insert<S>(conn: &mut Db, statement: S) -> QueryResult<usize>
where
    S: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection>,
{
    match conn {
        Db::Sqlite(conn) => <S as ExecuteDsl<SqliteConnection>>::execute(statement, conn),
        Db::Postgres(conn) => <S as ExecuteDsl<PgConnection>>::execute(statement, conn),
    }
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

    // Every table loads through schema.rs on both backends: the API suite's `schema` test.

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
        // a second open of the same file finds nothing left to migrate
        drop(conn);
        drop(pool);
        open(&format!("sqlite://{}", path.display())).unwrap();
    }

    #[test]
    fn an_unreachable_postgres_server_fails_at_once_naming_the_url_without_its_password() {
        // port 1 on loopback: nothing listens there, so the connection is refused at once
        let started = std::time::Instant::now();
        let err = open("postgres://nobody:secret@127.0.0.1:1/x").unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("cannot open the database postgres://nobody:***@127.0.0.1:1/x"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        assert!(
            started.elapsed().as_secs() < 10,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_malformed_postgres_url_is_refused_without_quoting_its_password() {
        // libpq quotes the piece it cannot decode, here the password
        let err = open("postgres://nobody:se%zzcret@127.0.0.1:1/x").unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("nobody:***@127.0.0.1"), "{message}");
        assert!(!message.contains("se%zz"), "{message}");
    }

    #[test]
    fn a_write_transaction_rolls_back_when_its_work_fails() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open(&format!("sqlite://{}", dir.path().join("v.db").display())).unwrap();
        let mut conn = pool.get().unwrap();
        let insert = |conn: &mut Db| {
            diesel::insert_into(schema::users::table)
                .values(models::NewUser {
                    username: "ada",
                    password_hash: None,
                    role: "admin",
                    study_id: None,
                    created_at: 0,
                })
                .execute(conn)
        };
        let failed: QueryResult<()> = write_locked_transaction(&mut conn, |conn| {
            insert(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        let users = |conn: &mut Db| schema::users::table.count().get_result::<i64>(conn);
        assert_eq!(users(&mut conn).unwrap(), 0);
        write_locked_transaction(&mut conn, |conn| insert(conn).map(drop)).unwrap();
        assert_eq!(users(&mut conn).unwrap(), 1);
    }
}
