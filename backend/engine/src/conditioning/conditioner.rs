//! A profile conditioner: residual offsets that are a linear function of the profile,
//! `h_l += scale · M_l·z` at a few layers, with `z` the profile minus the training mean. Both
//! methods have this shape and differ in where the maps come from:
//! - `profile-offset`: `M_l` learned across training profiles (KL to the target distributions),
//!   scale 1, several middle layers;
//! - `steer`: the rows of `M` are steering vectors (contrastive mean activations, one per value)
//!   at one layer, `scale` the strength α chosen on validation profiles.
//!
//! `profile-readout` has no layer maps but a readout after the final norm
//! (`models::Readout`): the gate `z·G` (`G` of shape (10, hidden)) and a direction, learned
//! across training profiles on cached answer states (`readout`). Trained with a relevance layer,
//! it has no gate: each item's value relevance `r` comes from a probe on the token-averaged
//! states of its prompt or of its subject alone (`relevance`), and the item moves by `(r·z)`
//! along the direction.
//!
//! There is no bias term per item: a zero profile difference (the mean profile) leaves the
//! layers as they are, so the model's usual answer cannot pass for profile signal. A readout
//! trained with `--fit-level` adds one learned profile difference to every profile's, its
//! `level` (10 numbers, the same for every profile): the profile the plain model answers like
//! is then `mean − level`, and the mean profile's answers move to the training targets' level.
//! Being the same for every profile, it cannot make answers follow profiles.
//!
//! Saved as `conditioner.safetensors` (tensors `layers.{l}`, shape (10, hidden); a readout's
//! `readout.gate`, (10, hidden), and `readout.direction`, (1, hidden); a relevance readout's
//! `relevance.*` and `relevance.direction`; a fitted level `readout.level`, (1, 10)) plus
//! `conditioning.json` ([`ConditionerConfig`]).

use super::relevance::{RelevanceText, ValueProbe};
use crate::models::{LoadedModel, Readout, ResidualOffsets};
use crate::{Error, Field, Result, ResultExt};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::VALUE_COUNT;

pub const CONFIG_FILE: &str = "conditioning.json";
pub const TENSORS_FILE: &str = "conditioner.safetensors";
const READOUT_GATE: &str = "readout.gate";
const READOUT_DIRECTION: &str = "readout.direction";
const RELEVANCE_DIRECTION: &str = "relevance.direction";
const READOUT_LEVEL: &str = "readout.level";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionerKind {
    ProfileOffset,
    Steer,
    ProfileReadout,
}

impl ConditionerKind {
    pub fn name(self) -> &'static str {
        match self {
            ConditionerKind::ProfileOffset => "profile-offset",
            ConditionerKind::Steer => "steer",
            ConditionerKind::ProfileReadout => "profile-readout",
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
    /// `profile-readout` with item relevance: the layer its value probe reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevance_layer: Option<usize>,
    /// `profile-readout` with item relevance: the text of each item its probe reads (the prompt
    /// for conditioners saved before there was a choice).
    #[serde(default, skip_serializing_if = "RelevanceText::is_prompt")]
    pub relevance_text: RelevanceText,
}

/// The differences z (rows, 10) of `profiles` from `mean`.
pub fn centred(
    profiles: &[[f64; VALUE_COUNT]],
    mean: &[f64; VALUE_COUNT],
    device: &Device,
) -> Result<Tensor> {
    let z: Vec<f32> = profiles
        .iter()
        .flat_map(|p| p.iter().zip(mean).map(|(s, m)| (s - m) as f32))
        .collect();
    Ok(Tensor::from_vec(z, (profiles.len(), VALUE_COUNT), device)?)
}

impl ConditionerConfig {
    /// A `profile-readout` for `model` of width `hidden`: no layer maps, scale 1.
    pub fn profile_readout(model: &str, hidden: usize, mean: [f64; VALUE_COUNT]) -> Self {
        Self {
            method: ConditionerKind::ProfileReadout,
            model: model.to_string(),
            hidden_size: hidden,
            layers: Vec::new(),
            mean,
            scale: 1.0,
            training: serde_json::Value::Null,
            relevance_layer: None,
            relevance_text: RelevanceText::Prompt,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProfileConditioner {
    pub config: ConditionerConfig,
    /// One (10, hidden) map per entry of `config.layers`.
    pub maps: Vec<Tensor>,
    /// `profile-readout`: the gate map (10, hidden) and the direction (1, hidden).
    pub readout: Option<(Tensor, Tensor)>,
    /// `profile-readout` with item relevance: the value probe and the direction (1, hidden).
    pub relevance: Option<(ValueProbe, Tensor)>,
    /// `profile-readout` trained with `--fit-level`: the profile difference (1, 10) added to
    /// every profile's before the readout reads it.
    pub level: Option<Tensor>,
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
        Ok(Self {
            config,
            maps,
            readout: None,
            relevance: None,
            level: None,
        })
    }

    /// The same readout with a fitted `level` (1, 10) added to every profile's difference.
    pub fn with_level(mut self, level: Tensor) -> Result<Self> {
        if level.dims() != [1, VALUE_COUNT] {
            return Err(Error::invalid(format!(
                "a readout's level has shape {:?}; expected (1, {VALUE_COUNT})",
                level.dims()
            )));
        }
        if self.readout.is_none() && self.relevance.is_none() {
            return Err(Error::invalid(
                "only a profile-readout has a level: its layer maps move with the profile alone",
            ));
        }
        self.level = Some(level);
        Ok(self)
    }

    /// The fitted level as numbers, for reports; None without one.
    pub fn level_values(&self) -> Result<Option<Vec<f32>>> {
        Ok(match &self.level {
            Some(level) => Some(level.flatten_all()?.to_vec1()?),
            None => None,
        })
    }

    /// What the readout reads for `profiles`: their differences from the mean plus the level.
    fn readout_z(&self, profiles: &[[f64; VALUE_COUNT]], device: &Device) -> Result<Tensor> {
        let z = self.centred(profiles, device)?;
        Ok(match &self.level {
            Some(level) => z.broadcast_add(&level.to_device(device)?)?,
            None => z,
        })
    }

    /// The same conditioner with a readout: `gate_map` (10, hidden), `direction` (1, hidden).
    pub fn with_readout(mut self, gate_map: Tensor, direction: Tensor) -> Result<Self> {
        let hidden = self.config.hidden_size;
        if gate_map.dims() != [VALUE_COUNT, hidden] || direction.dims() != [1, hidden] {
            return Err(Error::invalid(format!(
                "a readout has gate map {:?} and direction {:?}; expected ({VALUE_COUNT}, {hidden}) and (1, {hidden})",
                gate_map.dims(),
                direction.dims()
            )));
        }
        self.readout = Some((gate_map, direction));
        Ok(self)
    }

    /// The same conditioner moving each item by its relevance (see [`Self::item_offsets`]), the
    /// probe reading `text` of each item: the text it was fit on.
    pub fn with_relevance(
        mut self,
        probe: ValueProbe,
        text: RelevanceText,
        direction: Tensor,
    ) -> Result<Self> {
        let hidden = self.config.hidden_size;
        if probe.hidden_size() != hidden || direction.dims() != [1, hidden] {
            return Err(Error::invalid(format!(
                "a relevance readout has a probe of width {} and direction {:?}; expected {hidden} and (1, {hidden})",
                probe.hidden_size(),
                direction.dims()
            )));
        }
        self.config.relevance_layer = Some(probe.layer);
        self.config.relevance_text = text;
        self.relevance = Some((probe, direction));
        Ok(self)
    }

    /// Whether answers need each item's relevance ([`Self::relevance_of`]) to be conditioned.
    pub fn needs_item_relevance(&self) -> bool {
        self.relevance.is_some()
    }

    /// Which text of an item the relevance readout reads.
    pub fn relevance_text(&self) -> RelevanceText {
        self.config.relevance_text
    }

    /// The value relevance (texts, 10) of items' texts (each the one [`Self::relevance_text`]
    /// names); None without a relevance readout.
    pub fn relevance_of(&self, model: &LoadedModel, texts: &[String]) -> Result<Option<Tensor>> {
        match &self.relevance {
            Some((probe, _)) => Ok(Some(probe.relevance(model, texts)?)),
            None => Ok(None),
        }
    }

    /// Each item's shift `(r·z)` (items, 1) for one profile, `relevance` (items, 10), and the
    /// relevance direction (1, hidden) it moves along; None without a relevance readout.
    pub fn item_shifts(
        &self,
        profile: &[f64; VALUE_COUNT],
        relevance: &Tensor,
    ) -> Result<Option<(Tensor, Tensor)>> {
        let Some((_, direction)) = &self.relevance else {
            return Ok(None);
        };
        let z = self.readout_z(&[*profile], direction.device())?;
        let shift = (relevance.matmul(&z.t()?)? * self.config.scale)?;
        Ok(Some((shift, direction.clone())))
    }

    /// The offsets for one profile with one batch row per item: [`Self::offsets`] plus each
    /// item's shift ([`Self::item_shifts`]) as a readout.
    pub fn item_offsets(
        &self,
        profile: &[f64; VALUE_COUNT],
        relevance: &Tensor,
    ) -> Result<ResidualOffsets> {
        let offsets = self.offsets(&[*profile])?;
        Ok(match self.item_shifts(profile, relevance)? {
            Some((shift, direction)) => offsets.with_readout(Readout {
                gate: None,
                shift: Some(shift),
                direction,
            }),
            None => offsets,
        })
    }

    /// The profile differences z (rows, 10) of `profiles`.
    pub fn centred(&self, profiles: &[[f64; VALUE_COUNT]], device: &Device) -> Result<Tensor> {
        centred(profiles, &self.config.mean, device)
    }

    /// The offsets for one profile per batch row (or one profile for the whole batch).
    pub fn offsets(&self, profiles: &[[f64; VALUE_COUNT]]) -> Result<ResidualOffsets> {
        let device = match (self.maps.first(), &self.readout) {
            (Some(map), _) => map.device(),
            (None, Some((gate_map, _))) => gate_map.device(),
            (None, None) => return Ok(ResidualOffsets::default()),
        };
        let z = self.centred(profiles, device)?;
        let offsets = self
            .config
            .layers
            .iter()
            .zip(&self.maps)
            .map(|(&layer, map)| Ok((layer, (z.matmul(map)? * self.config.scale)?)))
            .collect::<Result<Vec<_>>>()?;
        let offsets = ResidualOffsets::new(offsets)?;
        Ok(match &self.readout {
            Some((gate_map, direction)) => offsets.with_readout(Readout {
                gate: Some(
                    (self.readout_z(profiles, device)?.matmul(gate_map)? * self.config.scale)?,
                ),
                shift: None,
                direction: direction.clone(),
            }),
            None => offsets,
        })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        let mut tensors: HashMap<String, Tensor> = self
            .config
            .layers
            .iter()
            .zip(&self.maps)
            .map(|(l, m)| Ok((format!("layers.{l}"), m.to_dtype(DType::F32)?.detach())))
            .collect::<Result<_>>()?;
        if let Some((gate_map, direction)) = &self.readout {
            tensors.insert(READOUT_GATE.into(), gate_map.to_dtype(DType::F32)?.detach());
            tensors.insert(
                READOUT_DIRECTION.into(),
                direction.to_dtype(DType::F32)?.detach(),
            );
        }
        if let Some((probe, direction)) = &self.relevance {
            tensors.extend(probe.tensors()?);
            tensors.insert(
                RELEVANCE_DIRECTION.into(),
                direction.to_dtype(DType::F32)?.detach(),
            );
        }
        if let Some(level) = &self.level {
            tensors.insert(READOUT_LEVEL.into(), level.to_dtype(DType::F32)?.detach());
        }
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
                    "{}: {e}; a profile-offset, steer or profile-readout method needs the folder written by `valuelab train --method profile-offset|steer|profile-readout`",
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
        let readout = config.method == ConditionerKind::ProfileReadout;
        let (relevance_layer, hidden) = (config.relevance_layer, config.hidden_size);
        let relevance_text = config.relevance_text;
        let conditioner = Self::new(config, maps)?;
        if !readout {
            return Ok(conditioner);
        }
        let get = |name: &str| {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| Error::invalid(format!("{TENSORS_FILE} has no tensor {name}")))
        };
        let conditioner = match relevance_layer {
            Some(layer) => conditioner.with_relevance(
                ValueProbe::from_tensors(layer, hidden, &tensors)?,
                relevance_text,
                get(RELEVANCE_DIRECTION)?,
            )?,
            None => conditioner.with_readout(get(READOUT_GATE)?, get(READOUT_DIRECTION)?)?,
        };
        // Folders saved before levels were fitted, or trained without one, have none.
        match tensors.get(READOUT_LEVEL) {
            Some(level) => conditioner.with_level(level.clone()),
            None => Ok(conditioner),
        }
    }
}
