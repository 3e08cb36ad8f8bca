//! One decoder block of [`super::Llama`]: RMS norm, rotary position tables, attention with the
//! KV cache, the MLP, and the linear layers that LoRA wraps.

use super::cache::LayerKv;
use super::fused;
use super::prefix_softmax;
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
            // The fused pass gives the weight no gradient: it is frozen (detached at load).
            Mode::Training if fused::applies(x) && !self.weight.track_op() => {
                fused::rms_norm(x, &self.weight, self.eps)?
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
            Mode::Training if fused::applies(x) => fused::rope(x, &self.cos, &self.sin),
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
    /// Multiply by the linears' quantised copies where they have them (decoding steps).
    pub(super) quantized: bool,
    /// Every query sees every position of the cache's shared prefixes, so their part of the
    /// mask is zero and attention does not add it (`Cache::shared_prefixes_visible`).
    pub(super) shared_visible: bool,
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
        ctx: &StepContext,
    ) -> Result<Tensor> {
        let layer = &self.linears[i];
        if ctx.quantized {
            return Ok(layer.forward_quantized(x)?);
        }
        if ctx.mode == Mode::Training && layer.lora().is_some_and(|l| l.dropout > 0.0) {
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
        kv: Option<&mut LayerKv>,
        rng: &Mutex<DropoutRng>,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let (nh, nkv, hd) = (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
        let h = self.input_layernorm.forward(x, ctx.mode)?;
        let q = self
            .linear(0, &h, rng, ctx)?
            .reshape((b, t, nh, hd))?
            .transpose(1, 2)?;
        let k = self
            .linear(1, &h, rng, ctx)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?;
        let v = self
            .linear(2, &h, rng, ctx)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = ctx.rotary.apply(&q, ctx.mode)?;
        let k = ctx.rotary.apply(&k, ctx.mode)?.contiguous()?;
        let (k, v, shared) = match kv {
            Some(slot) => {
                let (k, v) = match slot.own.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                    None => (k, v),
                };
                slot.own = Some((k.clone(), v.clone()));
                (k, v, slot.shared.clone())
            }
            None => (k, v, Vec::new()),
        };
        let attn = attention(&q, &k, &v, &shared, ctx)?;
        let x = (x + self.linear(3, &attn, rng, ctx)?)?;

        let h = self.post_attention_layernorm.forward(&x, ctx.mode)?;
        let gate = self.linear(4, &h, rng, ctx)?;
        let up = self.linear(5, &h, rng, ctx)?;
        let activation = if fused::applies(&gate) {
            fused::silu_mul(&gate, &up)?
        } else {
            (candle_nn::ops::silu(&gate)? * up)?
        };
        Ok((&x + self.linear(6, &activation, rng, ctx)?)?)
    }
}

/// Scaled dot-product attention of `q` (batch, heads, time, head dim) over `k` and `v` (batch,
/// kv heads, positions, head dim), after the one-row `shared` prefixes when there are any;
/// returns (batch, time, heads × head dim).
///
/// The query heads that read the same KV head are stacked along time, (batch, kv heads,
/// group, time, head dim), so keys and values are never repeated per head (grouped-query
/// attention). Each shared prefix is multiplied once by every row's queries stacked together,
/// and the softmax runs over the prefixes' and the row's own scores without joining them (all
/// are shifted by their joint maximum), so nothing of a prefix is copied per row. Repeating
/// the prefix per row was a tenth of the time of scoring under a persona (docs/performance.md).
pub(super) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    shared: &[(Tensor, Tensor)],
    ctx: &StepContext,
) -> Result<Tensor> {
    let (b, nh, t, hd) = q.dims4()?;
    let (nkv, own) = (k.dim(1)?, k.dim(2)?);
    let group = nh / nkv;
    let scale = 1.0 / (hd as f64).sqrt();
    let q = q.contiguous()?.reshape((b, nkv, group * t, hd))?;
    let own_scores = (q.matmul(&k.t()?)? * scale)?.reshape((b, nkv, group, t, own))?;
    // The mask is (rows, 1, time, positions): one more axis for the group.
    let mask = ctx.mask.map(|m| m.unsqueeze(2)).transpose()?;
    let heads_first = |x: Tensor| -> Result<Tensor> {
        Ok(x.reshape((b, nh, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, nh * hd))?)
    };
    if shared.is_empty() {
        let scores = match &mask {
            Some(mask) => own_scores.broadcast_add(mask)?,
            None => own_scores,
        };
        let probs = match ctx.mode {
            Mode::Inference => candle_nn::ops::softmax_last_dim(&scores)?,
            Mode::Training if fused::applies(&scores) => fused::softmax(&scores)?,
            Mode::Training => candle_nn::ops::softmax(&scores, D::Minus1)?,
        };
        return heads_first(probs.reshape((b, nkv, group * t, own))?.matmul(v)?);
    }
    // Every row's queries of one KV head as one matrix; prefix scores are (kv heads, batch,
    // group, time, prefix positions).
    let stacked = q
        .transpose(0, 1)?
        .contiguous()?
        .reshape((nkv, b * group * t, hd))?;
    let mut prefix_scores = Vec::with_capacity(shared.len());
    let mut start = 0;
    for (keys, _) in shared {
        let len = keys.dim(2)?;
        let scores =
            (stacked.matmul(&keys.squeeze(0)?.t()?)? * scale)?.reshape((nkv, b, group, t, len))?;
        // Where every query sees the prefix its part of the mask is zero, and adding it
        // would be a pass over the largest scores for nothing.
        prefix_scores.push(match &mask {
            Some(mask) if !ctx.shared_visible => {
                scores.broadcast_add(&mask.narrow(4, start, len)?.transpose(0, 1)?)?
            }
            _ => scores,
        });
        start += len;
    }
    let own_scores = match &mask {
        Some(mask) => own_scores.broadcast_add(&mask.narrow(4, start, own)?)?,
        None => own_scores,
    };
    // (batch, kv heads, group, time, 1) ↔ (kv heads, batch, …): the per-query statistics.
    let swap = |x: Tensor| -> Result<Tensor> { Ok(x.transpose(0, 1)?.contiguous()?) };
    // In inference on the CPU the row statistics run as parallel passes (`prefix_softmax`).
    let by_rows = ctx.mode == Mode::Inference && fused::applies(&own_scores);
    let row_max = |x: &Tensor| -> Result<Tensor> {
        if by_rows {
            prefix_softmax::row_max(x)
        } else {
            Ok(x.max_keepdim(4)?)
        }
    };
    let row_sum = |x: &Tensor| -> Result<Tensor> {
        if by_rows {
            prefix_softmax::row_sum(x)
        } else {
            Ok(x.sum_keepdim(4)?)
        }
    };
    let exp_minus = |x: &Tensor, max: &Tensor| -> Result<Tensor> {
        if by_rows {
            prefix_softmax::exp_minus(x, max)
        } else {
            Ok(x.broadcast_sub(max)?.exp()?)
        }
    };
    let mut max = row_max(&own_scores)?;
    for scores in &prefix_scores {
        max = max.maximum(&swap(row_max(scores)?)?)?;
    }
    let own_weights = exp_minus(&own_scores, &max)?;
    let mut total = row_sum(&own_weights)?;
    let mut out = own_weights
        .reshape((b, nkv, group * t, own))?
        .matmul(v)?
        .reshape((b, nkv, group, t, hd))?;
    let stacked_max = swap(max)?;
    for (scores, (_, values)) in prefix_scores.into_iter().zip(shared) {
        let len = values.dim(2)?;
        let weights = exp_minus(&scores, &stacked_max)?;
        total = (total + swap(row_sum(&weights)?)?)?;
        let from_prefix = weights
            .reshape((nkv, b * group * t, len))?
            .matmul(&values.squeeze(0)?)?
            .reshape((nkv, b, group, t, hd))?
            .transpose(0, 1)?;
        out = (out + from_prefix)?;
    }
    heads_first(out.broadcast_div(&total)?)
}
