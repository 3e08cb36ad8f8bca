//! valuelab's ML engine. It reads the research data (`data`), builds target groups from survey
//! microdata (`groups`), turns arguments into VIM training examples (`vim`), loads Llama-family
//! models (`models`), adapts them with LoRA (`lora`), generates and scores answers (`generate`),
//! trains adapters (`train`) and runs the evaluation tasks (`eval`). `jobs` is the application
//! layer on top: one serde spec and one `run` per piece of work, called by the command line, the
//! server's worker and cluster tasks alike. `output` is how every module writes files.
//!
//! It depends on `valuelab-common` for the domain types and knows nothing of the web server,
//! the database or the command line: the `valuelab` binary in `backend/server` drives it.

pub mod adapter;
pub mod bench;
pub mod conditioning;
pub mod data;
pub mod error;
pub mod eval;
pub mod generate;
pub mod groups;
pub mod jobs;
pub mod lora;
pub mod models;
pub mod output;
pub mod population;
pub mod protocol;
pub mod structure;
pub mod train;
pub mod vim;

pub use error::{Error, Field, Result, ResultExt};
