//! What every request handler shares: the database pool and the settings. diesel is
//! synchronous, so [`AppState::db`] runs a closure on actix's blocking thread pool with a pooled
//! connection and keeps the async workers free.

use crate::configuration::Settings;
use crate::db::{write_locked_transaction, Db, DbPool};
use crate::error::ApiResult;
use actix_web::web;
use std::sync::Mutex;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
}

impl AppState {
    pub async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> ApiResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }
}

/// Writers of this process, one at a time. The database admits one writer at a time anyway
/// (see [`crate::db::write_locked_transaction`]); waiting here, where a released lock wakes the
/// next writer at once, replaces SQLite's busy handler, which polls with sleeps of up to 100 ms
/// and made p99 latency under load several times worse. PostgreSQL's lock wakes its waiters at
/// once too; the mutex stays so that both backends share one write path, and this process's
/// writers queue here instead of each holding a server transaction open while they wait.
static WRITERS: Mutex<()> = Mutex::new(());

/// Runs `work` in one write transaction, rolled back on any error (`ApiError` included). It holds
/// the database's write lock from its first statement, so a transaction that reads and then
/// writes (handing out an item) never has its read overtaken by another writer: two annotators
/// can never take the last slot of an item at once.
pub fn write_transaction<T>(
    conn: &mut Db,
    work: impl FnOnce(&mut Db) -> ApiResult<T>,
) -> ApiResult<T> {
    // A panic in another writer poisons the lock but leaves no transaction open: go on.
    let _writer = WRITERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    write_locked_transaction(conn, work)
}
