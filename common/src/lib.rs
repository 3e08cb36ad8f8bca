//! Pure domain logic of valuelab, shared by the backend (engine, server, CLI) and the wasm
//! frontend: Schwartz's ten values, validated value distributions, questionnaire scoring,
//! answer scales, error metrics and agreement statistics. No I/O here, so it builds for wasm32.

pub mod distribution;
pub mod values;

pub use distribution::{DistributionError, ValueDistribution};
pub use values::{Value, ALL_VALUES, VALUE_COUNT};
