//! One decoder block of [`super::Llama`]: RMS norm, rotary position tables, attention with the
//! KV cache, the MLP, and the linear layers that LoRA wraps.

use super::{Config, Mode};
use crate::lora::linear::DropoutRng;
use crate::lora::{FrozenLinear, LoraLinear};
use crate::{Error, Result};
use candle_core::{Device, Tensor, D};
use candle_nn::VarBuilder;
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub(super) struct RmsNorm {
    pub(super) weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub(super) fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?.detach(),
            eps,
        })
    }

    pub(super) fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        Ok(match mode {
            Mode::Inference => {
                candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps as f32)?
            }
            Mode::Training => candle_nn::ops::rms_norm_slow(x, &self.weight, self.eps as f32)?,
        })
    }
}

/// Names of the linear layers in a block, in a fixed order (also the LoRA seed order).
pub(super) const ATTENTION_MODULES: [&str; 4] = ["q_proj", "k_proj", "v_proj", "o_proj"];
pub(super) const MLP_MODULES: [&str; 3] = ["gate_proj", "up_proj", "down_proj"];

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
pub(super) struct Block {
    pub(super) input_layernorm: RmsNorm,
    pub(super) post_attention_layernorm: RmsNorm,
    /// q, k, v, o, gate, up, down (ATTENTION_MODULES then MLP_MODULES).
    pub(super) linears: Vec<LoraLinear>,
}

/// Rotary tables for a step's positions: (batch, time, head_dim / 2).
pub(super) struct Rotary {
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
    pub(super) fn new(cfg: &Config, positions: &[Vec<u32>], device: &Device) -> Result<Self> {
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
    pub(super) fn apply(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
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

pub(super) struct StepContext<'a> {
    pub(super) rotary: &'a Rotary,
    pub(super) mask: Option<&'a Tensor>,
    pub(super) mode: Mode,
}

impl Block {
    pub(super) fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
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

    pub(super) fn linear(
        &self,
        i: usize,
        x: &Tensor,
        rng: &Mutex<DropoutRng>,
        mode: Mode,
    ) -> Result<Tensor> {
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

    pub(super) fn forward(
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
