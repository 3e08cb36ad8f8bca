//! Low-rank adapters on a frozen base model: the configuration with PEFT's field names
//! (`config`), the frozen and adapted linear layers (`linear`), and PEFT-format persistence
//! (`peft`).

pub mod config;
pub mod linear;
pub mod peft;

pub use config::LoraConfig;
pub use linear::{FrozenLinear, LoraLinear};
