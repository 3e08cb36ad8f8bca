//! HTTP API tests: one binary, one module per area, shared start-up in `helpers`.

mod agreement;
mod annotation;
mod auth;
mod health;
mod helpers;
mod not_found;
mod static_files;
mod studies;
mod values;
