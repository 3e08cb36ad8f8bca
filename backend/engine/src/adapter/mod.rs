//! LoRA adapters as files: the PEFT format (`peft`: `adapter_config.json` and
//! `adapter_model.safetensors`, readable by Hugging Face PEFT), the record of which target group
//! an adapter injects (`provenance`: `valuelab_adapter.json`), and finding each group's adapter
//! for an evaluation (`find`). Training writes adapters through this module and evaluation reads
//! them through it; the LoRA layers themselves are `lora` (a leaf the model calls).

pub mod find;
pub mod peft;
pub mod provenance;

pub use find::resolve_adapters;

use crate::models::LoadedModel;
use crate::{Error, Result};
use std::path::Path;

/// Applies a PEFT LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`) to
/// `model`; `merge` folds it into the base weights, which makes inference as fast as the base.
pub fn apply(model: &mut LoadedModel, dir: &Path, merge: bool) -> Result<()> {
    let (cfg, tensors) = peft::load_adapter(dir, model.device())?;
    peft::check_against_model(&cfg, &tensors, model.config()).map_err(|e| {
        Error::file(
            dir,
            None,
            format!("adapter does not fit model '{}': {e}", model.name),
        )
    })?;
    model.llama.load_lora(&cfg, &tensors)?;
    if merge {
        model.llama.merge_lora()?;
    }
    Ok(())
}
