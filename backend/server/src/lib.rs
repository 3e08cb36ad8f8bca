//! valuelab's server crate: the `valuelab` command line (`cli`) and the actix-web application
//! (`startup`, `routes`) that serves the frontend and the JSON API. It drives
//! `valuelab-engine` and keeps no ML logic of its own.

pub mod auth;
pub mod cli;
pub mod configuration;
pub mod db;
pub mod error;
pub mod jobs;
pub mod routes;
pub mod runs;
pub mod slurm;
pub mod startup;
pub mod state;
pub mod studies;
