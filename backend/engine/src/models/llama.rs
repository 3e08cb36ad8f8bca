//! A Llama-family decoder with Hugging Face semantics (checkpoint names, "rotate-half" RoPE),
//! written for valuelab's two workloads rather than taken from candle-transformers:
//! - scoring and generation need logits at chosen positions, batches of left-padded prompts
//!   and a KV cache that can be forked (a persona prefix encoded once, reused per item);
//! - LoRA training needs differentiable ops throughout (candle's fast rms-norm, rope and
//!   softmax kernels have no backward: ENGINE-NOTES trap 1) and frozen linears that skip weight
//!   gradients (trap 2).
//!
//! Weights come from a `VarBuilder` with HF names; the GGUF loader dequantises to f32 and
//! un-permutes q/k so that adapters line up with Hugging Face checkpoints.

use crate::lora::linear::{DropoutRng, LoraWeights};
use crate::lora::{FrozenLinear, LoraConfig, LoraLinear};
use crate::models::residual::ResidualOffsets;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{VarBuilder, VarMap};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_max_position_embeddings() -> usize {
    4096
}

/// Mirrors a Hugging Face `config.json` of a Llama-family model.
#[derive(Debug, Clone, Deserialize)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub vocab_size: usize,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
}

/// Llama 3.1's long-context frequency scaling (`rope_type: "llama3"`).
#[derive(Debug, Clone, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    pub factor: f64,
    #[serde(default = "one")]
    pub low_freq_factor: f64,
    #[serde(default = "four")]
    pub high_freq_factor: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub original_max_position_embeddings: usize,
}
fn one() -> f64 {
    1.0
}
fn four() -> f64 {
    4.0
}

impl LlamaConfig {
    pub fn into_config(self) -> Result<Config> {
        let head_dim = self
            .head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1));
        let num_kv_heads = self.num_key_value_heads.unwrap_or(self.num_attention_heads);
        if num_kv_heads == 0 || !self.num_attention_heads.is_multiple_of(num_kv_heads) {
            return Err(Error::invalid(format!(
                "config.json: num_attention_heads {} is not a multiple of num_key_value_heads {num_kv_heads}",
                self.num_attention_heads
            )));
        }
        if !head_dim.is_multiple_of(2) {
            return Err(Error::invalid(format!(
                "config.json: head dimension {head_dim} must be even for rotary embeddings"
            )));
        }
        if let Some(s) = &self.rope_scaling {
            if s.rope_type != "llama3" && s.rope_type != "default" {
                return Err(Error::invalid(format!(
                    "config.json: rope_scaling type '{}' is not supported (expected llama3 or default)",
                    s.rope_type
                )));
            }
        }
        Ok(Config {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            num_kv_heads,
            head_dim,
            vocab_size: self.vocab_size,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            max_position_embeddings: self.max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings,
            attention_bias: self.attention_bias,
            mlp_bias: self.mlp_bias,
            rope_scaling: self.rope_scaling.filter(|s| s.rope_type == "llama3"),
        })
    }
}

/// The runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub rope_scaling: Option<RopeScaling>,
}

impl Config {
    /// A tiny configuration for tests and examples.
    pub fn tiny(vocab_size: usize) -> Config {
        Config {
            hidden_size: 32,
            intermediate_size: 64,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            head_dim: 8,
            vocab_size,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            max_position_embeddings: 512,
            tie_word_embeddings: true,
            attention_bias: false,
            mlp_bias: false,
            rope_scaling: None,
        }
    }

    fn inverse_frequencies(&self) -> Vec<f64> {
        let half = self.head_dim / 2;
        (0..half)
            .map(|i| {
                let freq = 1.0 / self.rope_theta.powf(2.0 * i as f64 / self.head_dim as f64);
                match &self.rope_scaling {
                    Some(s) => llama3_scaled_frequency(freq, s),
                    None => freq,
                }
            })
            .collect()
    }
}

fn llama3_scaled_frequency(freq: f64, s: &RopeScaling) -> f64 {
    let old_context = s.original_max_position_embeddings as f64;
    let low_freq_wavelen = old_context / s.low_freq_factor;
    let high_freq_wavelen = old_context / s.high_freq_factor;
    let wavelen = 2.0 * std::f64::consts::PI / freq;
    if wavelen < high_freq_wavelen {
        freq
    } else if wavelen > low_freq_wavelen {
        freq / s.factor
    } else {
        let smooth =
            (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        (1.0 - smooth) * freq / s.factor + smooth * freq
    }
}

/// Keys and values of every layer for the tokens seen so far, and which of them are real
/// tokens (rows of a left-padded batch start with padding). Cloning is cheap (tensors are
/// shared), which is how a prefix cache is forked.
#[derive(Debug, Clone)]
pub struct Cache {
    kv: Vec<Option<(Tensor, Tensor)>>,
    valid: Vec<Vec<bool>>,
}

impl Cache {
    pub fn new(num_layers: usize) -> Cache {
        Cache {
            kv: vec![None; num_layers],
            valid: Vec::new(),
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.valid.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn batch_size(&self) -> Option<usize> {
        (!self.valid.is_empty()).then_some(self.valid.len())
    }

    /// Copies a one-row cache into `n` rows, e.g. a persona prefix for a batch of items.
    pub fn repeat_batch(&self, n: usize) -> Result<Cache> {
        if self.valid.len() != 1 {
            return Err(Error::invalid(format!(
                "only a one-row cache can be repeated (this one has {} rows)",
                self.valid.len()
            )));
        }
        let kv = self
            .kv
            .iter()
            .map(|slot| match slot {
                Some((k, v)) => Ok(Some((k.repeat((n, 1, 1, 1))?, v.repeat((n, 1, 1, 1))?))),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cache {
            kv,
            valid: vec![self.valid[0].clone(); n],
        })
    }
}

/// The tokens of one forward step: `ids` and `positions` are (batch, time) u32; `valid`
/// marks real tokens (false = left padding), None when every token is real.
#[derive(Debug, Clone)]
pub struct Input {
    pub ids: Tensor,
    pub positions: Vec<Vec<u32>>,
    pub valid: Option<Vec<Vec<bool>>>,
}

impl Input {
    /// One sequence whose first token sits at `start_pos`.
    pub fn from_tokens(tokens: &[u32], start_pos: usize, device: &Device) -> Result<Input> {
        if tokens.is_empty() {
            return Err(Error::invalid(
                "cannot run the model on an empty token sequence",
            ));
        }
        let ids = Tensor::new(tokens, device)?.unsqueeze(0)?;
        let positions = vec![(start_pos..start_pos + tokens.len())
            .map(|p| p as u32)
            .collect()];
        Ok(Input {
            ids,
            positions,
            valid: None,
        })
    }

    /// Sequences of different lengths, left-padded to the longest; row `i`'s real tokens take
    /// positions `start_pos[i]..`, so padding never shifts a sequence's positions.
    pub fn left_padded(
        seqs: &[Vec<u32>],
        start_pos: &[usize],
        pad_id: u32,
        device: &Device,
    ) -> Result<Input> {
        let width = seqs.iter().map(Vec::len).max().unwrap_or(0);
        if width == 0 || seqs.len() != start_pos.len() {
            return Err(Error::invalid(
                "left_padded needs non-empty sequences and one start position each",
            ));
        }
        let mut ids = Vec::with_capacity(seqs.len() * width);
        let mut positions = Vec::with_capacity(seqs.len());
        let mut valid = Vec::with_capacity(seqs.len());
        for (seq, &start) in seqs.iter().zip(start_pos) {
            let pad = width - seq.len();
            ids.extend(std::iter::repeat_n(pad_id, pad).chain(seq.iter().copied()));
            positions.push(
                (0..width)
                    .map(|i| (start + i.saturating_sub(pad)) as u32)
                    .collect(),
            );
            valid.push((0..width).map(|i| i >= pad).collect());
        }
        let all_valid = valid.iter().all(|row: &Vec<bool>| row.iter().all(|&v| v));
        Ok(Input {
            ids: Tensor::from_vec(ids, (seqs.len(), width), device)?,
            positions,
            valid: (!all_valid).then_some(valid),
        })
    }
}

/// Inference uses candle's fused kernels; training only differentiable ops and LoRA dropout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inference,
    Training,
}

#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?.detach(),
            eps,
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(match mode {
            Mode::Inference => {
                candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps as f32)?
            }
            Mode::Training => candle_nn::ops::rms_norm_slow(x, &self.weight, self.eps as f32)?,
        })
    }
}

/// Names of the linear layers in a block, in a fixed order (also the LoRA seed order).
const ATTENTION_MODULES: [&str; 4] = ["q_proj", "k_proj", "v_proj", "o_proj"];
const MLP_MODULES: [&str; 3] = ["gate_proj", "up_proj", "down_proj"];

fn load_linear(vb: VarBuilder, in_dim: usize, out_dim: usize, bias: bool) -> Result<LoraLinear> {
    let weight = vb.get((out_dim, in_dim), "weight")?;
    let bias = if bias {
        Some(vb.get(out_dim, "bias")?)
    } else {
        None
    };
    Ok(LoraLinear::new(FrozenLinear::new(weight, bias)?))
}

#[derive(Debug, Clone)]
struct Block {
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    /// q, k, v, o, gate, up, down (ATTENTION_MODULES then MLP_MODULES).
    linears: Vec<LoraLinear>,
}

/// Rotary tables for a step's positions: (batch, time, head_dim / 2).
struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

fn rotate_half(x: &Tensor) -> Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    Ok(Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?)
}

impl Rotary {
    fn new(cfg: &Config, positions: &[Vec<u32>], device: &Device) -> Result<Self> {
        let inv_freq = cfg.inverse_frequencies();
        let (b, t) = (positions.len(), positions.first().map_or(0, Vec::len));
        let mut cos = Vec::with_capacity(b * t * inv_freq.len());
        let mut sin = Vec::with_capacity(cos.capacity());
        for &p in positions.iter().flatten() {
            for f in &inv_freq {
                let angle = p as f64 * f;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let shape = (b, t, inv_freq.len());
        Ok(Self {
            cos: Tensor::from_vec(cos, shape, device)?,
            sin: Tensor::from_vec(sin, shape, device)?,
        })
    }

    /// `x` is (batch, heads, time, head_dim).
    fn apply(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        match mode {
            Mode::Inference => Ok(candle_nn::rotary_emb::rope(
                &x.contiguous()?,
                &self.cos,
                &self.sin,
            )?),
            Mode::Training => {
                let cos = Tensor::cat(&[&self.cos, &self.cos], D::Minus1)?.unsqueeze(1)?;
                let sin = Tensor::cat(&[&self.sin, &self.sin], D::Minus1)?.unsqueeze(1)?;
                Ok((x.broadcast_mul(&cos)? + rotate_half(x)?.broadcast_mul(&sin)?)?)
            }
        }
    }
}

struct StepContext<'a> {
    rotary: &'a Rotary,
    mask: Option<&'a Tensor>,
    mode: Mode,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim);
        let attn = vb.pp("self_attn");
        let mlp = vb.pp("mlp");
        let q_dim = cfg.num_heads * hd;
        let kv_dim = cfg.num_kv_heads * hd;
        let linears = vec![
            load_linear(attn.pp("q_proj"), h, q_dim, cfg.attention_bias)?,
            load_linear(attn.pp("k_proj"), h, kv_dim, cfg.attention_bias)?,
            load_linear(attn.pp("v_proj"), h, kv_dim, cfg.attention_bias)?,
            load_linear(attn.pp("o_proj"), q_dim, h, cfg.attention_bias)?,
            load_linear(mlp.pp("gate_proj"), h, cfg.intermediate_size, cfg.mlp_bias)?,
            load_linear(mlp.pp("up_proj"), h, cfg.intermediate_size, cfg.mlp_bias)?,
            load_linear(mlp.pp("down_proj"), cfg.intermediate_size, h, cfg.mlp_bias)?,
        ];
        Ok(Self {
            input_layernorm: RmsNorm::load(vb.pp("input_layernorm"), h, cfg.rms_norm_eps)?,
            post_attention_layernorm: RmsNorm::load(
                vb.pp("post_attention_layernorm"),
                h,
                cfg.rms_norm_eps,
            )?,
            linears,
        })
    }

    fn linear(&self, i: usize, x: &Tensor, rng: &Mutex<DropoutRng>, mode: Mode) -> Result<Tensor> {
        let layer = &self.linears[i];
        if mode == Mode::Training && layer.lora().is_some_and(|l| l.dropout > 0.0) {
            let mut rng = rng
                .lock()
                .map_err(|_| Error::invalid("dropout rng poisoned by a panic"))?;
            Ok(layer.forward(x, Some(&mut rng))?)
        } else {
            Ok(layer.forward(x, None)?)
        }
    }

    fn forward(
        &self,
        x: &Tensor,
        cfg: &Config,
        ctx: &StepContext,
        kv: Option<&mut Option<(Tensor, Tensor)>>,
        rng: &Mutex<DropoutRng>,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (nh, nkv, hd) = (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
        let h = self.input_layernorm.forward(x, ctx.mode)?;
        let q = self
            .linear(0, &h, rng, ctx.mode)?
            .reshape((b, t, nh, hd))?
            .transpose(1, 2)?;
        let k = self
            .linear(1, &h, rng, ctx.mode)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?;
        let v = self
            .linear(2, &h, rng, ctx.mode)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = ctx.rotary.apply(&q, ctx.mode)?;
        let k = ctx.rotary.apply(&k, ctx.mode)?;
        let (k, v) = match kv {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                    None => (k.contiguous()?, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let k = candle_transformers::utils::repeat_kv(k, nh / nkv)?;
        let v = candle_transformers::utils::repeat_kv(v, nh / nkv)?;
        let scores = (q.contiguous()?.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let scores = match ctx.mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let probs = match ctx.mode {
            Mode::Inference => candle_nn::ops::softmax_last_dim(&scores)?,
            Mode::Training => candle_nn::ops::softmax(&scores, D::Minus1)?,
        };
        let attn = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b, t, nh * hd))?;
        let x = (x + self.linear(3, &attn, rng, ctx.mode)?)?;

        let h = self.post_attention_layernorm.forward(&x, ctx.mode)?;
        let gate = candle_nn::ops::silu(&self.linear(4, &h, rng, ctx.mode)?)?;
        let up = self.linear(5, &h, rng, ctx.mode)?;
        Ok((&x + self.linear(6, &(gate * up)?, rng, ctx.mode)?)?)
    }
}

#[derive(Debug)]
pub struct Llama {
    cfg: Config,
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    lm_head: FrozenLinear,
    device: Device,
    dropout_rng: Mutex<DropoutRng>,
    /// Added to the residual stream after chosen blocks (profile conditioning); empty: none.
    offsets: ResidualOffsets,
}

/// PEFT's tensor name of a module's adapter factor (`factor` is "lora_A" or "lora_B").
pub fn peft_tensor_name(layer: usize, module: &str, factor: &str) -> String {
    let group = if MLP_MODULES.contains(&module) {
        "mlp"
    } else {
        "self_attn"
    };
    format!("base_model.model.model.layers.{layer}.{group}.{module}.{factor}.weight")
}

fn module_index(module: &str) -> Option<usize> {
    ATTENTION_MODULES
        .iter()
        .chain(MLP_MODULES.iter())
        .position(|m| *m == module)
}

impl Llama {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let device = vb.device().clone();
        let embed_tokens = vb
            .pp("model.embed_tokens")
            .get((cfg.vocab_size, cfg.hidden_size), "weight")?
            .detach();
        let blocks = (0..cfg.num_layers)
            .map(|i| Block::load(vb.pp(format!("model.layers.{i}")), cfg))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(vb.pp("model.norm"), cfg.hidden_size, cfg.rms_norm_eps)?;
        let lm_head = if cfg.tie_word_embeddings {
            FrozenLinear::new(embed_tokens.clone(), None)?
        } else {
            FrozenLinear::new(
                vb.pp("lm_head")
                    .get((cfg.vocab_size, cfg.hidden_size), "weight")?,
                None,
            )?
        };
        Ok(Self {
            cfg: cfg.clone(),
            embed_tokens,
            blocks,
            norm,
            lm_head,
            device,
            dropout_rng: Mutex::new(DropoutRng::new(0)),
            offsets: ResidualOffsets::default(),
        })
    }

    /// Adds `offsets` to the residual stream at every position of every later forward pass
    /// (caches built from now on include them); [`ResidualOffsets::default`] removes them.
    pub fn set_residual_offsets(&mut self, offsets: ResidualOffsets) -> Result<()> {
        offsets.check(self.cfg.num_layers, self.cfg.hidden_size)?;
        self.offsets = offsets;
        Ok(())
    }

    pub fn residual_offsets(&self) -> &ResidualOffsets {
        &self.offsets
    }

    /// Every frozen weight of the model, for tests that check no gradient reaches them.
    #[cfg(test)]
    pub(crate) fn frozen_weights(&self) -> Vec<&Tensor> {
        let mut weights = vec![&self.embed_tokens, &self.norm.weight, self.lm_head.weight()];
        for block in &self.blocks {
            weights.push(&block.input_layernorm.weight);
            weights.push(&block.post_attention_layernorm.weight);
            weights.extend(block.linears.iter().map(|l| l.base().weight()));
        }
        weights
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Reseeds LoRA dropout (the trainer reseeds per step so a resumed run repeats itself).
    pub fn set_dropout_seed(&self, seed: u64) {
        if let Ok(mut rng) = self.dropout_rng.lock() {
            *rng = DropoutRng::new(seed);
        }
    }

    pub fn new_cache(&self) -> Cache {
        Cache::new(self.cfg.num_layers)
    }

    /// Additive attention mask (batch, 1, time, past + time): a query sees earlier real tokens
    /// and always itself (so padded rows stay finite); None when nothing needs masking.
    fn attention_mask(
        &self,
        input: &Input,
        t: usize,
        past_valid: &[Vec<bool>],
    ) -> Result<Option<Tensor>> {
        let past = past_valid.first().map_or(0, Vec::len);
        if input.valid.is_none() && past_valid.iter().flatten().all(|&v| v) && t == 1 {
            return Ok(None);
        }
        let b = input.positions.len();
        let total = past + t;
        let rows = if input.valid.is_none() && past_valid.iter().flatten().all(|&v| v) {
            1
        } else {
            b
        };
        let mut mask = Vec::with_capacity(rows * t * total);
        for row in 0..rows {
            for i in 0..t {
                for j in 0..total {
                    let real = if j < past {
                        past_valid.get(row).is_none_or(|r| r[j])
                    } else {
                        input.valid.as_ref().is_none_or(|v| v[row][j - past])
                    };
                    let visible = j == past + i || (j < past + i && real);
                    mask.push(if visible { 0.0f32 } else { f32::NEG_INFINITY });
                }
            }
        }
        Ok(Some(Tensor::from_vec(
            mask,
            (rows, 1, t, total),
            &self.device,
        )?))
    }

    /// Final-norm hidden states (batch, time, hidden); appends this step to `cache` when given.
    pub fn forward_hidden(
        &self,
        input: &Input,
        cache: Option<&mut Cache>,
        mode: Mode,
    ) -> Result<Tensor> {
        let (b, t) = input.ids.dims2()?;
        if input.positions.len() != b || input.positions.iter().any(|p| p.len() != t) {
            return Err(Error::invalid(
                "input positions do not match the token batch",
            ));
        }
        let empty = Vec::new();
        let past_valid = cache.as_ref().map_or(&empty, |c| &c.valid);
        if !past_valid.is_empty() && past_valid.len() != b {
            return Err(Error::invalid(format!(
                "cache holds {} rows but the input has {b} (use Cache::repeat_batch)",
                past_valid.len()
            )));
        }
        let mask = self.attention_mask(input, t, past_valid)?;
        let rotary = Rotary::new(&self.cfg, &input.positions, &self.device)?;
        let ctx = StepContext {
            rotary: &rotary,
            mask: mask.as_ref(),
            mode,
        };
        let x = self.run_blocks(input, cache, &ctx, self.blocks.len(), None)?;
        self.norm.forward(&x, mode)
    }

    /// The residual stream after each block 0..=`last`, before any later block or the final
    /// norm: (batch, time, hidden) each. Steering vectors are read from it.
    pub fn residual_stream(&self, input: &Input, last: usize) -> Result<Vec<Tensor>> {
        if last >= self.blocks.len() {
            return Err(Error::invalid(format!(
                "layer {last} does not exist: the model has {} layers (0..{})",
                self.blocks.len(),
                self.blocks.len() - 1
            )));
        }
        let (_, t) = input.ids.dims2()?;
        let mask = self.attention_mask(input, t, &[])?;
        let rotary = Rotary::new(&self.cfg, &input.positions, &self.device)?;
        let ctx = StepContext {
            rotary: &rotary,
            mask: mask.as_ref(),
            mode: Mode::Inference,
        };
        let mut stream = Vec::with_capacity(last + 1);
        self.run_blocks(input, None, &ctx, last + 1, Some(&mut stream))?;
        Ok(stream)
    }

    /// Embeds `input` and runs the first `count` blocks, adding the residual offsets after
    /// each block that has one; appends this step to `cache` when given, and each block's
    /// output to `stream`.
    fn run_blocks(
        &self,
        input: &Input,
        mut cache: Option<&mut Cache>,
        ctx: &StepContext,
        count: usize,
        mut stream: Option<&mut Vec<Tensor>>,
    ) -> Result<Tensor> {
        let (b, t) = input.ids.dims2()?;
        let mut x = self
            .embed_tokens
            .index_select(&input.ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.hidden_size))?;
        for (i, block) in self.blocks.iter().take(count).enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.kv[i]);
            x = block.forward(&x, &self.cfg, ctx, slot, &self.dropout_rng)?;
            x = self.offsets.add_after(i, x)?;
            if let Some(stream) = stream.as_deref_mut() {
                stream.push(x.clone());
            }
        }
        if let Some(cache) = cache {
            let new_valid = input
                .valid
                .clone()
                .unwrap_or_else(|| vec![vec![true; t]; b]);
            if cache.valid.is_empty() {
                cache.valid = new_valid;
            } else {
                for (row, new) in cache.valid.iter_mut().zip(new_valid) {
                    row.extend(new);
                }
            }
        }
        Ok(x)
    }

    /// Logits (…, vocab) for hidden states (…, hidden). Select the positions you need first:
    /// the output layer is the largest matmul of a small model.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.lm_head.forward(hidden)?)
    }

    /// Logits at the last position of every row: (batch, vocab).
    pub fn forward_last(&self, input: &Input, cache: Option<&mut Cache>) -> Result<Tensor> {
        let hidden = self.forward_hidden(input, cache, Mode::Inference)?;
        let t = hidden.dim(1)?;
        self.logits(&hidden.narrow(1, t - 1, 1)?.squeeze(1)?)
    }

    fn lora_targets<'a>(&self, cfg: &'a LoraConfig) -> Result<Vec<(usize, &'a str, usize)>> {
        cfg.validate()?;
        let mut targets = Vec::new();
        for layer in 0..self.cfg.num_layers {
            for module in &cfg.target_modules {
                let index = module_index(module)
                    .ok_or_else(|| Error::invalid(format!("unknown target module '{module}'")))?;
                targets.push((layer, module.as_str(), index));
            }
        }
        Ok(targets)
    }

    /// Adds fresh trainable adapters (A seeded kaiming-uniform, B zero) registered in `varmap`
    /// under PEFT's tensor names.
    pub fn attach_lora(&mut self, cfg: &LoraConfig, varmap: &VarMap, seed: u64) -> Result<()> {
        let targets = self.lora_targets(cfg)?;
        let mut vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid("varmap lock poisoned"))?;
        for (n, (layer, module, index)) in targets.into_iter().enumerate() {
            let linear = &mut self.blocks[layer].linears[index];
            let (a, b) = linear.init_lora_factors(cfg, seed.wrapping_add(n as u64))?;
            let a = Var::from_tensor(&a)?;
            let b = Var::from_tensor(&b)?;
            linear.set_lora(LoraWeights {
                a: a.as_tensor().clone(),
                b: b.as_tensor().clone(),
                scale: cfg.scale(),
                dropout: cfg.lora_dropout,
            })?;
            vars.insert(peft_tensor_name(layer, module, "lora_A"), a);
            vars.insert(peft_tensor_name(layer, module, "lora_B"), b);
        }
        Ok(())
    }

    /// Installs adapter factors read from a PEFT adapter (inference: no dropout, no gradients).
    pub fn load_lora(&mut self, cfg: &LoraConfig, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let targets = self.lora_targets(cfg)?;
        let expected: Vec<String> = targets
            .iter()
            .flat_map(|(l, m, _)| {
                [
                    peft_tensor_name(*l, m, "lora_A"),
                    peft_tensor_name(*l, m, "lora_B"),
                ]
            })
            .collect();
        if let Some(extra) = tensors.keys().find(|k| !expected.contains(k)) {
            return Err(Error::invalid(format!(
                "adapter tensor '{extra}' does not belong to the target modules {:?} of a {}-layer model",
                cfg.target_modules, self.cfg.num_layers
            )));
        }
        for (layer, module, index) in targets {
            let get = |factor: &str| {
                let name = peft_tensor_name(layer, module, factor);
                tensors
                    .get(&name)
                    .ok_or_else(|| Error::invalid(format!("adapter is missing tensor '{name}'")))
                    .and_then(|t| Ok(t.to_device(&self.device)?.to_dtype(DType::F32)?.detach()))
            };
            let (a, b) = (get("lora_A")?, get("lora_B")?);
            self.blocks[layer].linears[index].set_lora(LoraWeights {
                a,
                b,
                scale: cfg.scale(),
                dropout: 0.0,
            })?;
        }
        Ok(())
    }

    /// The current adapter factors under PEFT names, for saving.
    pub fn lora_tensors(&self) -> Vec<(String, Tensor)> {
        let modules: Vec<&str> = ATTENTION_MODULES
            .iter()
            .chain(MLP_MODULES.iter())
            .copied()
            .collect();
        let mut out = Vec::new();
        for (layer, block) in self.blocks.iter().enumerate() {
            for (module, linear) in modules.iter().zip(&block.linears) {
                if let Some(lora) = linear.lora() {
                    out.push((peft_tensor_name(layer, module, "lora_A"), lora.a.clone()));
                    out.push((peft_tensor_name(layer, module, "lora_B"), lora.b.clone()));
                }
            }
        }
        out
    }

    /// Folds every adapter into its base weight.
    pub fn merge_lora(&mut self) -> Result<()> {
        for block in &mut self.blocks {
            for linear in &mut block.linears {
                linear.merge()?;
            }
        }
        Ok(())
    }
}

/// A randomly initialised model of any configuration, for tests and benchmarks.
pub fn random_model(cfg: &Config, seed: u64, device: &Device) -> Result<Llama> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    let mut uniform = |shape: Vec<usize>, scale: f32| -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Ok(Tensor::from_vec(values, shape, device)?)
    };
    let (h, i, hd) = (cfg.hidden_size, cfg.intermediate_size, cfg.head_dim);
    tensors.insert(
        "model.embed_tokens.weight".to_string(),
        uniform(vec![cfg.vocab_size, h], 1.0)?,
    );
    if !cfg.tie_word_embeddings {
        tensors.insert(
            "lm_head.weight".to_string(),
            uniform(vec![cfg.vocab_size, h], 0.5 / (h as f32).sqrt())?,
        );
    }
    for l in 0..cfg.num_layers {
        let p = format!("model.layers.{l}");
        let shapes = [
            ("self_attn.q_proj", cfg.num_heads * hd, h),
            ("self_attn.k_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.v_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.o_proj", h, cfg.num_heads * hd),
            ("mlp.gate_proj", i, h),
            ("mlp.up_proj", i, h),
            ("mlp.down_proj", h, i),
        ];
        for (name, out_dim, in_dim) in shapes {
            tensors.insert(
                format!("{p}.{name}.weight"),
                uniform(vec![out_dim, in_dim], 1.0 / (in_dim as f32).sqrt())?,
            );
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            tensors.insert(
                format!("{p}.{norm}.weight"),
                Tensor::ones(h, DType::F32, device)?,
            );
        }
    }
    tensors.insert(
        "model.norm.weight".into(),
        Tensor::ones(h, DType::F32, device)?,
    );
    Llama::load(VarBuilder::from_tensors(tensors, DType::F32, device), cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::max_abs_diff;

    fn tiny() -> Llama {
        random_model(&Config::tiny(50), 42, &Device::Cpu).unwrap()
    }

    #[test]
    fn forward_shapes_follow_the_config() {
        let model = tiny();
        let input = Input::from_tokens(&[1, 2, 3, 4, 5], 0, &Device::Cpu).unwrap();
        let hidden = model.forward_hidden(&input, None, Mode::Inference).unwrap();
        assert_eq!(hidden.dims(), &[1, 5, 32]);
        assert_eq!(model.logits(&hidden).unwrap().dims(), &[1, 5, 50]);
        assert_eq!(model.forward_last(&input, None).unwrap().dims(), &[1, 50]);
    }

    #[test]
    fn kv_cache_decoding_equals_a_full_forward_pass() {
        let model = tiny();
        let tokens = [3u32, 7, 11, 13, 17, 19];
        let full = model
            .forward_hidden(
                &Input::from_tokens(&tokens, 0, &Device::Cpu).unwrap(),
                None,
                Mode::Inference,
            )
            .unwrap();
        let mut cache = model.new_cache();
        let first = model
            .forward_hidden(
                &Input::from_tokens(&tokens[..2], 0, &Device::Cpu).unwrap(),
                Some(&mut cache),
                Mode::Inference,
            )
            .unwrap();
        assert!(max_abs_diff(&first, &full.narrow(1, 0, 2).unwrap()) < 1e-4);
        for (i, &tok) in tokens.iter().enumerate().skip(2) {
            let step = model
                .forward_hidden(
                    &Input::from_tokens(&[tok], i, &Device::Cpu).unwrap(),
                    Some(&mut cache),
                    Mode::Inference,
                )
                .unwrap();
            assert!(
                max_abs_diff(&step, &full.narrow(1, i, 1).unwrap()) < 1e-4,
                "position {i}"
            );
        }
        assert_eq!(cache.len(), tokens.len());
    }

    #[test]
    fn training_ops_match_inference_ops() {
        let model = tiny();
        let input = Input::from_tokens(&[5, 6, 7, 8], 0, &Device::Cpu).unwrap();
        let a = model.forward_hidden(&input, None, Mode::Inference).unwrap();
        let b = model.forward_hidden(&input, None, Mode::Training).unwrap();
        assert!(max_abs_diff(&a, &b) < 1e-4);
    }

    #[test]
    fn left_padded_rows_equal_unpadded_single_rows() {
        let model = tiny();
        let seqs = vec![vec![4u32, 9, 2], vec![8u32, 1, 6, 3, 12]];
        let input = Input::left_padded(&seqs, &[0, 0], 0, &Device::Cpu).unwrap();
        let batch = model.forward_last(&input, None).unwrap();
        for (row, seq) in seqs.iter().enumerate() {
            let single = model
                .forward_last(&Input::from_tokens(seq, 0, &Device::Cpu).unwrap(), None)
                .unwrap();
            assert!(
                max_abs_diff(&batch.narrow(0, row, 1).unwrap(), &single) < 1e-4,
                "row {row}"
            );
        }
    }

    #[test]
    fn repeated_prefix_cache_serves_a_padded_batch() {
        let model = tiny();
        let prefix = [1u32, 2, 3];
        let mut cache = model.new_cache();
        model
            .forward_hidden(
                &Input::from_tokens(&prefix, 0, &Device::Cpu).unwrap(),
                Some(&mut cache),
                Mode::Inference,
            )
            .unwrap();
        let suffixes = vec![vec![10u32, 11], vec![20u32, 21, 22, 23]];
        let mut batch_cache = cache.repeat_batch(2).unwrap();
        let input = Input::left_padded(&suffixes, &[3, 3], 0, &Device::Cpu).unwrap();
        let batch = model.forward_last(&input, Some(&mut batch_cache)).unwrap();
        for (row, suffix) in suffixes.iter().enumerate() {
            let full: Vec<u32> = prefix.iter().chain(suffix).copied().collect();
            let single = model
                .forward_last(&Input::from_tokens(&full, 0, &Device::Cpu).unwrap(), None)
                .unwrap();
            assert!(
                max_abs_diff(&batch.narrow(0, row, 1).unwrap(), &single) < 1e-4,
                "row {row}"
            );
        }
    }

    #[test]
    fn lora_at_init_leaves_logits_unchanged() {
        let mut model = tiny();
        let input = Input::from_tokens(&[1, 4, 9, 16], 0, &Device::Cpu).unwrap();
        let before = model.forward_last(&input, None).unwrap();
        let varmap = VarMap::new();
        model
            .attach_lora(&LoraConfig::default(), &varmap, 1)
            .unwrap();
        // 2 layers × (q_proj, v_proj) × (A, B)
        assert_eq!(varmap.all_vars().len(), 8);
        assert!(max_abs_diff(&before, &model.forward_last(&input, None).unwrap()) < 1e-6);
    }

    #[test]
    fn every_lora_variable_receives_a_gradient() {
        let mut model = tiny();
        let varmap = VarMap::new();
        let cfg = LoraConfig {
            lora_dropout: 0.1,
            ..LoraConfig::default()
        };
        model.attach_lora(&cfg, &varmap, 1).unwrap();
        // B starts at zero, which zeroes A's gradient; give B values so both factors must learn.
        for (name, var) in varmap.data().lock().unwrap().iter() {
            if name.contains("lora_B") {
                var.set(&(var.as_tensor().ones_like().unwrap() * 0.05).unwrap())
                    .unwrap();
            }
        }
        let input = Input::from_tokens(&[1, 4, 9, 16], 0, &Device::Cpu).unwrap();
        let hidden = model.forward_hidden(&input, None, Mode::Training).unwrap();
        let loss = model
            .logits(&hidden)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        for (name, var) in varmap.data().lock().unwrap().iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            assert!(
                g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0,
                "zero gradient for {name}"
            );
        }
        assert!(grads.get(&model.embed_tokens).is_none());
    }

    #[test]
    fn merged_model_equals_unmerged_and_adapters_round_trip() {
        let mut model = tiny();
        let varmap = VarMap::new();
        let cfg = LoraConfig {
            target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
            ..LoraConfig::default()
        };
        model.attach_lora(&cfg, &varmap, 3).unwrap();
        // Give B non-zero values so the adapter matters.
        for (name, var) in varmap.data().lock().unwrap().iter() {
            if name.contains("lora_B") {
                var.set(&(var.as_tensor().ones_like().unwrap() * 0.05).unwrap())
                    .unwrap();
            }
        }
        let input = Input::from_tokens(&[2, 3, 5, 7, 11], 0, &Device::Cpu).unwrap();
        let adapted = model.forward_last(&input, None).unwrap();
        let tensors: HashMap<String, Tensor> = model.lora_tensors().into_iter().collect();
        assert_eq!(tensors.len(), 12);
        assert!(tensors.contains_key("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));

        let mut reloaded = tiny();
        reloaded.load_lora(&cfg, &tensors).unwrap();
        assert!(max_abs_diff(&adapted, &reloaded.forward_last(&input, None).unwrap()) < 1e-5);
        reloaded.merge_lora().unwrap();
        assert!(reloaded.lora_tensors().is_empty());
        assert!(max_abs_diff(&adapted, &reloaded.forward_last(&input, None).unwrap()) < 1e-4);
        let plain = tiny().forward_last(&input, None).unwrap();
        assert!(
            max_abs_diff(&adapted, &plain) > 1e-3,
            "the adapter should change the logits"
        );
    }

    #[test]
    fn adapters_for_other_modules_are_rejected() {
        let mut model = tiny();
        let mut tensors = HashMap::new();
        tensors.insert(
            peft_tensor_name(0, "k_proj", "lora_A"),
            Tensor::zeros((8, 32), DType::F32, &Device::Cpu).unwrap(),
        );
        let err = model
            .load_lora(&LoraConfig::default(), &tensors)
            .unwrap_err()
            .to_string();
        assert!(err.contains("k_proj"), "{err}");
    }
}
