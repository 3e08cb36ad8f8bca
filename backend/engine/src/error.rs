//! The engine's one error type. Messages are lowercase and name the bad input and the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data or model file that is missing, unreadable or malformed, with the line where known.
    #[error("{path}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    File {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Distribution(#[from] valuelab_common::DistributionError),
}

impl Error {
    pub fn file(path: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
