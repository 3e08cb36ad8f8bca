//! Resumable checkpoints: `OUT/checkpoint/` holds the adapter in PEFT format (so a checkpoint is
//! also a usable adapter), `optimizer.safetensors` (AdamW's moments under PyTorch's names) and
//! `trainer_state.json` (where in which epoch the run stopped, the losses so far and the settings
//! it was started with).
//!
//! Nothing random needs saving: the epoch order is derived from (seed, epoch) and the LoRA dropout
//! stream is reseeded from (seed, step) before every step, so a resumed run repeats exactly the
//! steps an uninterrupted run would take.
//!
//! A checkpoint is written into `checkpoint.tmp/` and renamed into place, the previous one kept
//! as `checkpoint.old/` until the rename is done: a run killed at any moment leaves one complete
//! checkpoint behind.

use crate::adapter::peft;
use crate::lora::LoraConfig;
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const CHECKPOINT_DIR: &str = "checkpoint";
pub const STATE_FILE: &str = "trainer_state.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// The settings a resumed run must share with the run that wrote the checkpoint; anything else
/// would make the saved position (epoch, step) mean something different.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub train_examples: usize,
    pub valid_examples: usize,
    pub batch_size: usize,
    pub grad_accum: usize,
    pub epochs: usize,
    pub seed: u64,
    pub lr: f64,
    pub weight_decay: f64,
    pub max_seq_len: Option<usize>,
    pub lora: LoraConfig,
}

/// Where a run stands; written in every checkpoint and, at the end, next to the final adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps completed.
    pub global_step: usize,
    /// The epoch in progress (0-based) and how many of its steps are done.
    pub epoch: usize,
    pub step_in_epoch: usize,
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    /// Sum of answer-token losses and answer tokens of the epoch in progress (its mean train loss).
    pub epoch_loss_sum: f64,
    pub epoch_loss_tokens: usize,
    /// Mean train loss of the last completed step.
    pub last_train_loss: Option<f64>,
    /// Validation loss after each epoch (and at an early stop), as (epoch, step, loss).
    pub valid_losses: Vec<(usize, usize, f64)>,
    /// Training time so far over all sessions of this run, seconds.
    pub elapsed_s: f64,
    pub settings: RunSettings,
    /// The base model the adapter belongs to.
    pub base_model: String,
}

impl TrainerState {
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        crate::output::write_atomically(path, |w| Ok(w.write_all(json.as_bytes())?))
    }

    pub fn read(path: &Path) -> Result<Self> {
        crate::output::read_json(path, "trainer state")
    }
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    pub state: TrainerState,
    pub lora: HashMap<String, Tensor>,
    pub optimizer: HashMap<String, Tensor>,
}

/// The folder of the newest complete checkpoint under `out_dir`, if any.
pub fn find(out_dir: &Path) -> Option<PathBuf> {
    // `checkpoint.old` only survives a crash between the two renames in `save`.
    [CHECKPOINT_DIR, "checkpoint.old"]
        .iter()
        .map(|name| out_dir.join(name))
        .find(|dir| dir.join(STATE_FILE).is_file())
}

/// Writes a checkpoint of `lora` tensors (PEFT names), optimizer state and `state`; returns its folder.
pub fn save(
    out_dir: &Path,
    state: &TrainerState,
    lora: &[(String, Tensor)],
    optimizer: &[(String, Tensor)],
) -> Result<PathBuf> {
    let final_dir = out_dir.join(CHECKPOINT_DIR);
    let tmp = out_dir.join("checkpoint.tmp");
    let old = out_dir.join("checkpoint.old");
    remove_dir(&tmp)?;
    peft::save_adapter(&tmp, &state.settings.lora, lora, &state.base_model)?;
    peft::save_tensors(&tmp.join(OPTIMIZER_FILE), optimizer)?;
    state.write(&tmp.join(STATE_FILE))?;
    remove_dir(&old)?;
    if final_dir.exists() {
        rename(&final_dir, &old)?;
    }
    rename(&tmp, &final_dir)?;
    remove_dir(&old)?;
    Ok(final_dir)
}

/// Reads the checkpoint in `dir` (as `find` returns it).
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint> {
    let state = TrainerState::read(&dir.join(STATE_FILE))?;
    let (_, lora) = peft::load_adapter(dir, device)?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    let optimizer = candle_core::safetensors::load(&opt_path, device).map_err(|e| {
        Error::file(
            &opt_path,
            None,
            format!("cannot read the optimizer state: {e}"),
        )
    })?;
    Ok(Checkpoint {
        state,
        lora,
        optimizer,
    })
}

fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| {
            Error::file(
                dir,
                None,
                format!("cannot remove the old checkpoint folder: {e}"),
            )
        })?;
    }
    Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| {
        Error::file(
            from,
            None,
            format!("cannot move the checkpoint to {}: {e}", to.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::llama::peft_tensor_name;
    use candle_core::DType;

    fn state() -> TrainerState {
        TrainerState {
            global_step: 3,
            epoch: 1,
            step_in_epoch: 1,
            total_steps: 10,
            steps_per_epoch: 2,
            epoch_loss_sum: 4.5,
            epoch_loss_tokens: 3,
            last_train_loss: Some(1.5),
            valid_losses: vec![(0, 2, 2.25)],
            elapsed_s: 1.0,
            settings: RunSettings {
                train_examples: 8,
                valid_examples: 2,
                batch_size: 2,
                grad_accum: 2,
                epochs: 5,
                seed: 7,
                lr: 1e-3,
                weight_decay: 0.0,
                max_seq_len: Some(64),
                lora: LoraConfig {
                    r: 2,
                    target_modules: vec!["q_proj".into()],
                    ..LoraConfig::default()
                },
            },
            base_model: "tiny".into(),
        }
    }

    #[test]
    fn a_second_checkpoint_replaces_the_first_and_both_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Cpu;
        let a = Tensor::arange(0f32, 8.0, &dev)
            .unwrap()
            .reshape((2, 4))
            .unwrap();
        let b = Tensor::ones((4, 2), DType::F32, &dev).unwrap();
        let lora = vec![
            (peft_tensor_name(0, "q_proj", "lora_A"), a.clone()),
            (peft_tensor_name(0, "q_proj", "lora_B"), b),
        ];
        let opt = vec![("x.exp_avg".to_string(), a.clone())];
        let mut st = state();
        save(dir.path(), &st, &lora, &opt).unwrap();
        st.global_step = 4;
        let path = save(dir.path(), &st, &lora, &opt).unwrap();
        assert_eq!(find(dir.path()).unwrap(), path);
        assert!(
            !dir.path().join("checkpoint.old").exists()
                && !dir.path().join("checkpoint.tmp").exists()
        );
        let back = load(&path, &dev).unwrap();
        assert_eq!(back.state, st);
        let diff = (back.optimizer["x.exp_avg"].clone() - a)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        assert_eq!(back.lora.len(), 2);
    }

    #[test]
    fn no_checkpoint_is_found_in_an_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find(dir.path()).is_none());
    }
}
