//! Profile conditioning: methods that carry any value profile into a small model without
//! training per group (issue 11). A profile becomes additive offsets of the residual stream
//! (`models::ResidualOffsets`):
//! - `profile-offset`: a learned linear map from the profile to offsets at middle layers
//!   ([`train_offset`]), trained across real people's profiles on Touché-built examples with a
//!   KL loss to the target distributions ([`targets`]);
//! - `steer`: training-free steering vectors, one per value, from contrastive mean activations
//!   ([`steer`]);
//! - `profile-readout`: a learned, item-dependent shift after the final norm, `h += (h·G·z) d`,
//!   fit on cached answer states ([`readout`], [`train_readout`]); or, with a relevance layer,
//!   `h += (r·z) d` with each item's value relevance `r` read from its prompt or its subject
//!   ([`relevance`]).
//!
//! Profiles are split so that no held-out profile reaches training ([`profiles`]).

pub mod branch;
pub mod conditioner;
pub mod examples;
pub mod probe_texts;
pub mod profiles;
pub mod readout;
pub mod relevance;
pub mod steer;
pub mod targets;
#[cfg(test)]
pub mod testing;
pub mod train_offset;
pub mod train_readout;

pub use conditioner::{ConditionerConfig, ConditionerKind, ProfileConditioner, CONFIG_FILE};
pub use profiles::{split_profiles, NamedProfile, ProfileSource, ProfileSplit, SplitOptions};
pub use relevance::RelevanceText;
