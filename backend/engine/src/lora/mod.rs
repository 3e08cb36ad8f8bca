//! Low-rank adapters on a frozen base model: the configuration with PEFT's field names
//! (`config`), the frozen and adapted linear layers (`linear`) and the quantised copy of a
//! frozen weight that generation multiplies by (`quantized`). A leaf: the model builds its
//! layers from it; adapter files are `adapter`.

pub mod config;
pub mod linear;
pub mod quantized;

pub use config::LoraConfig;
pub use linear::{FrozenLinear, LoraLinear};
