//! Pure domain logic of valuelab, shared by the backend (engine, server, CLI) and the wasm
//! frontend: Schwartz's ten values, validated value distributions, questionnaire scoring,
//! answer scales, error metrics and agreement statistics. No I/O here, so it builds for wasm32.

pub mod agreement;
pub mod api;
pub mod distribution;
pub mod kappa;
pub mod metrics;
pub mod pairwise;
pub mod pvq;
pub mod pvq21;
pub mod scale;
pub mod stats;
pub mod values;
pub mod vim_rule;

pub use distribution::{DistributionError, ValueDistribution};
pub use kappa::{fleiss_kappa, fleiss_kappa_long, Kappa, KappaError};
pub use pvq::{score_pvq, PvqError, PvqScores, PVQ_OPTIONS};
pub use pvq21::{score_pvq21, Pvq21Error};
pub use scale::{AnswerScale, ScaleError, Unparseable};
pub use stats::{paired_t_test, TTest};
pub use values::{Value, ALL_VALUES, VALUE_COUNT};
