//! A profile conditioner: residual offsets that are a linear function of the profile,
//! `h_l += scale · M_l·z` at a few layers, with `z` the profile minus the training mean. Both
//! methods have this shape and differ in where the maps come from:
//! - `profile-offset`: `M_l` learned across training profiles (KL to the target distributions),
//!   scale 1, several middle layers;
//! - `steer`: the rows of `M` are steering vectors (contrastive mean activations, one per value)
//!   at one layer, `scale` the strength α chosen on validation profiles.
//!
//! There is no bias term: a zero profile difference (the mean profile) leaves the model as it
//! is, so the model's usual answer cannot pass for profile signal.
//!
//! Saved as `conditioner.safetensors` (tensor `layers.{l}`, shape (10, hidden)) plus
//! `conditioning.json` ([`ConditionerConfig`]).

use crate::models::ResidualOffsets;
use crate::{Error, Field, Result, ResultExt};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::VALUE_COUNT;

pub const CONFIG_FILE: &str = "conditioning.json";
pub const TENSORS_FILE: &str = "conditioner.safetensors";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionerKind {
    ProfileOffset,
    Steer,
}

impl ConditionerKind {
    pub fn name(self) -> &'static str {
        match self {
            ConditionerKind::ProfileOffset => "profile-offset",
            ConditionerKind::Steer => "steer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionerConfig {
    pub method: ConditionerKind,
    /// The model it was made for (a conditioner only fits a model of its width and depth).
    pub model: String,
    pub hidden_size: usize,
    pub layers: Vec<usize>,
    /// The mean training profile, subtracted from every profile.
    pub mean: [f64; VALUE_COUNT],
    /// Multiplies every offset (steer: the strength α; profile-offset: 1).
    pub scale: f64,
    /// How it was made: profile counts, budget, validation figures (free-form, for reports).
    #[serde(default)]
    pub training: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct ProfileConditioner {
    pub config: ConditionerConfig,
    /// One (10, hidden) map per entry of `config.layers`.
    pub maps: Vec<Tensor>,
}

impl ProfileConditioner {
    pub fn new(config: ConditionerConfig, maps: Vec<Tensor>) -> Result<Self> {
        if maps.len() != config.layers.len() {
            return Err(Error::invalid(format!(
                "{} maps for {} layers",
                maps.len(),
                config.layers.len()
            )));
        }
        for map in &maps {
            if map.dims() != [VALUE_COUNT, config.hidden_size] {
                return Err(Error::invalid(format!(
                    "a conditioner map has shape {:?}; expected ({VALUE_COUNT}, {})",
                    map.dims(),
                    config.hidden_size
                )));
            }
        }
        Ok(Self { config, maps })
    }

    /// The profile differences z (rows, 10) of `profiles`.
    pub fn centred(&self, profiles: &[[f64; VALUE_COUNT]], device: &Device) -> Result<Tensor> {
        let z: Vec<f32> = profiles
            .iter()
            .flat_map(|p| p.iter().zip(&self.config.mean).map(|(s, m)| (s - m) as f32))
            .collect();
        Ok(Tensor::from_vec(z, (profiles.len(), VALUE_COUNT), device)?)
    }

    /// The offsets for one profile per batch row (or one profile for the whole batch).
    pub fn offsets(&self, profiles: &[[f64; VALUE_COUNT]]) -> Result<ResidualOffsets> {
        let Some(first) = self.maps.first() else {
            return Ok(ResidualOffsets::default());
        };
        let z = self.centred(profiles, first.device())?;
        let offsets = self
            .config
            .layers
            .iter()
            .zip(&self.maps)
            .map(|(&layer, map)| Ok((layer, (z.matmul(map)? * self.config.scale)?)))
            .collect::<Result<Vec<_>>>()?;
        ResidualOffsets::new(offsets)
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        let tensors: HashMap<String, Tensor> = self
            .config
            .layers
            .iter()
            .zip(&self.maps)
            .map(|(l, m)| Ok((format!("layers.{l}"), m.to_dtype(DType::F32)?.detach())))
            .collect::<Result<_>>()?;
        candle_core::safetensors::save(&tensors, dir.join(TENSORS_FILE))?;
        crate::output::write_json(&dir.join(CONFIG_FILE), &self.config)
    }

    /// Reads a conditioner folder written by [`Self::save`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            Error::input(
                Field::Adapter,
                format!(
                    "{}: {e}; a profile-offset or steer method needs the folder written by `valuelab train --method profile-offset|steer`",
                    config_path.display()
                ),
            )
        })?;
        let config: ConditionerConfig = serde_json::from_str(&text)
            .map_err(|e| Error::input(Field::Adapter, format!("{}: {e}", config_path.display())))?;
        let tensors = candle_core::safetensors::load(dir.join(TENSORS_FILE), device)
            .context(|| format!("cannot read {}", dir.join(TENSORS_FILE).display()))?;
        let maps = config
            .layers
            .iter()
            .map(|l| {
                tensors.get(&format!("layers.{l}")).cloned().ok_or_else(|| {
                    Error::invalid(format!("{TENSORS_FILE} has no tensor layers.{l}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(config, maps)
    }
}
