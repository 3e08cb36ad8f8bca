//! The database of one test app: a SQLite file in the test's folder, or, with
//! `VALUELAB_TEST_BACKEND=postgres`, a fresh database on the PostgreSQL server named by
//! `VALUELAB_TEST_POSTGRES_URL` (`.ci/run` starts one), dropped when the test ends. Each test has
//! a database of its own, so the suite runs in parallel on either backend. Asked for PostgreSQL
//! without a reachable server, a test fails: it never falls back to SQLite unnoticed.

use diesel::{Connection, PgConnection, RunQueryDsl};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use valuelab_server::db::redact;

/// `sqlite` (the default) or `postgres`.
pub const ENV_BACKEND: &str = "VALUELAB_TEST_BACKEND";
/// A PostgreSQL server and a user that may create databases, e.g.
/// `postgres://valuelab:valuelab@127.0.0.1:5432/postgres`.
pub const ENV_POSTGRES_URL: &str = "VALUELAB_TEST_POSTGRES_URL";

pub struct TestDatabase {
    /// The URL the app is started with.
    pub url: String,
    /// PostgreSQL: the server's URL and the database to drop at the end.
    created: Option<(String, String)>,
}

impl TestDatabase {
    /// A database for one test; a SQLite file goes into `dir`.
    pub fn new(dir: &Path) -> TestDatabase {
        let backend = std::env::var(ENV_BACKEND).unwrap_or_default();
        match backend.trim() {
            "" | "sqlite" => TestDatabase {
                url: format!("sqlite://{}", dir.join("valuelab.db").display()),
                created: None,
            },
            "postgres" => TestDatabase::on_postgres(),
            other => panic!("{ENV_BACKEND}='{other}': expected sqlite or postgres"),
        }
    }

    fn on_postgres() -> TestDatabase {
        let server = std::env::var(ENV_POSTGRES_URL)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "{ENV_BACKEND}=postgres needs {ENV_POSTGRES_URL}: a server and a user that \
                     may create databases, e.g. postgres://valuelab:valuelab@127.0.0.1:5432/postgres \
                     (.ci/run starts one)"
                )
            });
        let name = unique_name();
        PgConnection::establish(&server)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())
            })
            .unwrap_or_else(|e| {
                panic!(
                    "{ENV_BACKEND}=postgres: cannot create a test database on {} \
                     ({ENV_POSTGRES_URL}): {e}",
                    redact(&server)
                )
            });
        TestDatabase {
            url: with_database(&server, &name),
            created: Some((server, name)),
        }
    }
}

impl TestDatabase {
    /// The database of another app, used but not owned: dropping this drops nothing.
    pub fn borrowed(url: &str) -> TestDatabase {
        TestDatabase {
            url: url.to_string(),
            created: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = &self.created else {
            return;
        };
        // FORCE ends the app's pooled connections, which outlive the test. No panic here: the
        // test may be unwinding already, and a database left behind harms no other test.
        let dropped = PgConnection::establish(server)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!("test database {name} left on {}: {e}", redact(server));
        }
    }
}

/// A database name no other test, run or process uses: the process, the clock and a counter.
fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "valuelab_test_{:x}_{nanos:x}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `server` (a `postgres://` URL) with its database replaced by `name`, query kept.
fn with_database(server: &str, name: &str) -> String {
    let authority = server.find("://").map_or(0, |i| i + 3);
    let path = server[authority..]
        .find(['/', '?'])
        .map_or(server.len(), |i| authority + i);
    let query = server[path..].find('?').map_or("", |i| &server[path + i..]);
    format!("{}/{name}{query}", &server[..path])
}

#[test]
fn a_test_database_url_keeps_the_server_and_its_options() {
    for (server, expected) in [
        ("postgres://u:p@h:5432/postgres", "postgres://u:p@h:5432/t"),
        ("postgres://u:p@h", "postgres://u:p@h/t"),
        (
            "postgresql://u@h/postgres?sslmode=disable",
            "postgresql://u@h/t?sslmode=disable",
        ),
        (
            "postgres://h?sslmode=disable",
            "postgres://h/t?sslmode=disable",
        ),
    ] {
        assert_eq!(with_database(server, "t"), expected);
    }
}
