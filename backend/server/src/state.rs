//! What every request handler shares: the database pool and the settings. diesel is
//! synchronous, so [`AppState::db`] runs a closure on actix's blocking thread pool with a pooled
//! connection and keeps the async workers free.

use crate::configuration::Settings;
use crate::db::{Db, DbPool};
use crate::routes::error::ApiResult;
use actix_web::web;

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

/// Rolls a closure's work back on any error, `ApiError` included; SQLite's `BEGIN IMMEDIATE`
/// takes the write lock up front, so two annotators asking at once queue instead of one failing
/// with "database is locked" when its read turns into a write.
pub fn write_transaction<T>(
    conn: &mut Db,
    work: impl FnOnce(&mut Db) -> ApiResult<T>,
) -> ApiResult<T> {
    conn.immediate_transaction(work)
}
