//! HTTP API tests: one binary, one module per endpoint, shared start-up in `helpers`.

mod health;
mod helpers;
mod not_found;
mod static_files;
mod values;
