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
    /// Bad input that came through one field of a job spec. The message is neutral (no flag
    /// names): the command line adds its flag, the server names its form field.
    #[error("{message}")]
    Input { field: Field, message: String },
    /// What was being done when `source` happened (`cannot load model 'x'`); the message of
    /// the cause is its source, so a caller that prints the chain (`{:#}`) shows both.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
    #[error("{}", candle_message(.0))]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Distribution(#[from] valuelab_common::DistributionError),
}

impl Error {
    /// A file error whose cause is a candle error, its backtrace left out.
    pub fn candle_file(path: impl Into<PathBuf>, what: &str, error: &candle_core::Error) -> Self {
        Error::file(path, None, format!("{what}: {}", candle_message(error)))
    }

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

    /// Bad input in `field` of a job spec.
    pub fn input(field: Field, message: impl Into<String>) -> Self {
        Error::Input {
            field,
            message: message.into(),
        }
    }

    /// The spec field this error is about, looking through added context.
    pub fn field(&self) -> Option<Field> {
        match self {
            Error::Input { field, .. } => Some(*field),
            Error::Context { source, .. } => source.field(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The field of a job spec that bad input came through (serialised as the spec's field name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    DataDir,
    Group,
    SampleGroups,
    Adapter,
    Answer,
    Samples,
    Shots,
    Gold,
    Threshold,
    Out,
    Resume,
    K,
    ElbowOut,
    RidgeLambda,
    Pair,
    HeldOutGroups,
    Respondents,
    MaxSeqLen,
    Weight,
    Groups,
}

/// A candle error's message without the backtrace candle attaches to it (with RUST_BACKTRACE
/// set, its `Display` prints a dozen stack frames after the message): a user who gave a bad
/// file needs the message, not candle's internals.
pub fn candle_message(error: &candle_core::Error) -> String {
    use candle_core::Error as E;
    match error {
        E::WithBacktrace { inner, .. } => candle_message(inner),
        E::WithPath { inner, path } => format!("{}: {}", path.display(), candle_message(inner)),
        E::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        other => other.to_string(),
    }
}

/// Adds what was being done to an error, like `anyhow::Context`.
pub trait ResultExt<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candle_errors_read_without_their_backtrace() {
        let inner = candle_core::Error::Msg("unknown magic 0x3dbb8cf9".into());
        let traced = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert_eq!(Error::from(traced).to_string(), "unknown magic 0x3dbb8cf9");
    }
}
