//! Using a loaded model: the persona prefix cache shared by everything below (`prefix`),
//! token sampling (`sampler`), batched text generation (`generation`) and likelihood scoring of
//! answer options (`scoring`), which is how valuelab answers survey items by default.

pub mod generation;
pub mod prefix;
pub mod sampler;
pub mod scoring;

pub use generation::{generate, generate_with_prefix, Finish, Generation, GenerationConfig};
pub use prefix::PrefixState;
pub use sampler::Sampler;
pub use scoring::{
    expected_index, score_items, score_items_shifted, score_items_with_prefix, ChoiceItem,
    ItemShifts, Normalisation, OptionScores,
};

#[cfg(test)]
mod real_model_tests;
