//! HTTP API tests: one binary, one module per area, shared start-up in `helpers`. The suite runs
//! on SQLite, and on PostgreSQL with `VALUELAB_TEST_BACKEND=postgres` (see `database`).

mod agreement;
mod annotation;
mod auth;
mod compare;
mod conditioning;
mod database;
mod health;
mod helpers;
mod jobs;
mod not_found;
mod populations;
mod runs;
mod schema;
mod static_files;
mod studies;
mod values;
mod write_lock;
