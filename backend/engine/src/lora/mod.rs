//! Low-rank adapters on a frozen base model: the configuration with PEFT's field names
//! (`config`) and the frozen and adapted linear layers (`linear`). A leaf: the model builds its
//! layers from it; adapter files are `adapter`.

pub mod config;
pub mod linear;

pub use config::LoraConfig;
pub use linear::{FrozenLinear, LoraLinear};
