//! The `valuelab` command line end to end: the built binary on the shared research data and on
//! tiny random models, one module per command group, built into one test binary (one link,
//! shared helpers in `common`).

mod common;
mod conditioning;
mod data;
mod eval;
mod groups;
mod kappa;
mod model;
mod population;
mod report;
mod train;
mod user;
