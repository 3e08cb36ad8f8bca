//! Training's RMS norm, softmax and rotary embedding, and the MLP's `silu(gate) · up`, as single
//! passes over the data, each with a backward pass of its own, on the CPU in f32.
//!
//! Why by hand: candle's fused kernels for the first three have no backward (ENGINE-NOTES trap
//! 1), so training composed them from elementwise ops, and candle's silu has a backward of seven
//! ops. Each op is a pass over memory with a temporary of its own, kept for the backward pass,
//! whose ops add as many again: in the profile of a LoRA train step they were a tenth of the
//! time, and the temporaries a third of training's memory (docs/performance.md). Here every pass
//! is one loop over rows, split across rayon's threads. Other devices and dtypes keep the
//! composed ops (`applies`).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

pub(super) type OpResult<T> = candle_core::Result<T>;

/// Rows per rayon task: enough work to pay for the split.
pub(super) const MIN_ROWS_PER_TASK: usize = 8;

/// Whether the fused passes serve `x`: f32 on the CPU.
pub(super) fn applies(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

pub(super) fn slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> OpResult<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: the input has to be contiguous"),
    }
}

pub(super) fn output(data: Vec<f32>, layout: &Layout) -> (CpuStorage, Shape) {
    (CpuStorage::F32(data), layout.shape().clone())
}

/// The output of `f` run on each row of `width` elements (the last may be shorter), split
/// across rayon's threads: `f` gets the row's index, its output and the same row of each input
/// (inputs of one length).
pub(super) fn map_rows<const N: usize>(
    width: usize,
    min_rows_per_task: usize,
    inputs: [&[f32]; N],
    f: impl Fn(usize, &mut [f32], [&[f32]; N]) + Sync,
) -> Vec<f32> {
    let width = width.max(1);
    let mut out = vec![0f32; inputs.first().map_or(0, |x| x.len())];
    out.par_chunks_mut(width)
        .enumerate()
        .with_min_len(min_rows_per_task)
        .for_each(|(row, out)| {
            let at = row * width;
            f(
                row,
                out,
                std::array::from_fn(|k| &inputs[k][at..at + out.len()]),
            )
        });
    out
}

/// RMS norm over the last dimension, `x / sqrt(mean(x²) + eps) * weight`. The weight gets no
/// gradient: LoRA trains the linears only, and the norms' weights are frozen.
pub(super) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> crate::Result<Tensor> {
    // The pass splits x into rows of the weight's length, so a mismatch would give wrong
    // numbers rather than an error (candle's own kernel checks the same).
    let (width, size) = (x.dim(candle_core::D::Minus1)?, weight.dims1()?);
    if width != size {
        return Err(crate::Error::invalid(format!(
            "valuelab-rms-norm: x's last dimension is {width}, the weight's {size}"
        )));
    }
    Ok(x.contiguous()?.apply_op2(weight, RmsNorm { eps })?)
}

struct RmsNorm {
    eps: f64,
}

impl RmsNorm {
    /// 1 / sqrt(mean(x²) + eps) of one row.
    fn inverse_rms(&self, row: &[f32]) -> f32 {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        1.0 / (mean + self.eps as f32).sqrt()
    }
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "valuelab-rms-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let (x, w) = (slice(xs, xl, self.name())?, slice(ws, wl, self.name())?);
        let out = map_rows(w.len(), MIN_ROWS_PER_TASK, [x], |_, out, [x]| {
            let r = self.inverse_rms(x);
            for ((o, x), w) in out.iter_mut().zip(x).zip(w) {
                *o = x * r * w;
            }
        });
        Ok(output(out, xl))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> OpResult<(Option<Tensor>, Option<Tensor>)> {
        let dx = x.apply_op3_no_bwd(weight, &grad.contiguous()?, &RmsNormGrad { eps: self.eps })?;
        Ok((Some(dx), None))
    }
}

/// With u = grad · weight and r = 1 / sqrt(mean(x²) + eps):
/// dx = r · u − x · r³ · mean(u · x).
struct RmsNormGrad {
    eps: f64,
}

impl CustomOp3 for RmsNormGrad {
    fn name(&self) -> &'static str {
        "valuelab-rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, w, g) = (
            slice(xs, xl, name)?,
            slice(ws, wl, name)?,
            slice(gs, gl, name)?,
        );
        let n = w.len();
        let norm = RmsNorm { eps: self.eps };
        let out = map_rows(n, MIN_ROWS_PER_TASK, [x, g], |_, out, [x, g]| {
            let r = norm.inverse_rms(x);
            let ux = g
                .iter()
                .zip(w)
                .zip(x)
                .map(|((g, w), x)| g * w * x)
                .sum::<f32>();
            let k = r * r * r * ux / n as f32;
            for (((o, x), g), w) in out.iter_mut().zip(x).zip(g).zip(w) {
                *o = r * g * w - x * k;
            }
        });
        Ok(output(out, xl))
    }
}

/// Softmax over the last dimension.
pub(super) fn softmax(x: &Tensor) -> crate::Result<Tensor> {
    Ok(x.contiguous()?.apply_op1(Softmax)?)
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "valuelab-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> OpResult<(CpuStorage, Shape)> {
        let x = slice(storage, layout, self.name())?;
        let width = layout.dims().last().copied().unwrap_or(1);
        let out = map_rows(width, MIN_ROWS_PER_TASK, [x], |_, out, [x]| {
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for (o, x) in out.iter_mut().zip(x) {
                *o = (x - max).exp();
                total += *o;
            }
            out.iter_mut().for_each(|o| *o /= total);
        });
        Ok(output(out, layout))
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> OpResult<Option<Tensor>> {
        Ok(Some(
            res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad)?,
        ))
    }
}

/// dx = y · (g − Σ g·y) per row, with y the softmax's output.
struct SoftmaxGrad;

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "valuelab-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        ys: &CpuStorage,
        yl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let (y, g) = (slice(ys, yl, self.name())?, slice(gs, gl, self.name())?);
        let width = yl.dims().last().copied().unwrap_or(1);
        let out = map_rows(width, MIN_ROWS_PER_TASK, [y, g], |_, out, [y, g]| {
            let dot = y.iter().zip(g).map(|(y, g)| y * g).sum::<f32>();
            for ((o, y), g) in out.iter_mut().zip(y).zip(g) {
                *o = y * (g - dot);
            }
        });
        Ok(output(out, yl))
    }
}

/// The MLP's gated activation, `silu(gate) · up`, with silu as candle computes it (x / (1 + e^−x)),
/// so inference gives the same numbers as candle's two ops.
pub(super) fn silu_mul(gate: &Tensor, up: &Tensor) -> crate::Result<Tensor> {
    Ok(gate.contiguous()?.apply_op2(&up.contiguous()?, SiluMul)?)
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// Elementwise over inputs of one shape: `f` gets each position's values, in input order.
fn zip_map<const N: usize>(
    inputs: [(&CpuStorage, &Layout); N],
    name: &str,
    f: impl Fn([f32; N]) -> f32 + Sync,
) -> OpResult<(CpuStorage, Shape)> {
    let layout = inputs[0].1;
    let mut slices = Vec::with_capacity(N);
    for (storage, l) in inputs {
        if l.shape() != layout.shape() {
            candle_core::bail!(
                "{name}: the inputs differ in shape ({:?}, {:?})",
                layout.shape(),
                l.shape()
            )
        }
        slices.push(slice(storage, l, name)?);
    }
    let inputs: [&[f32]; N] = std::array::from_fn(|k| slices[k]);
    let out = map_rows(ELEMENTS_PER_TASK, 1, inputs, |_, out, ins| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(std::array::from_fn(|k| ins[k][i]));
        }
    });
    Ok(output(out, layout))
}

/// Elements per rayon task of the elementwise passes.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

struct SiluMul;

impl CustomOp2 for SiluMul {
    fn name(&self) -> &'static str {
        "valuelab-silu-mul"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        zip_map([(gs, gl), (us, ul)], self.name(), |[g, u]| silu(g) * u)
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> OpResult<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let d_up = gate.apply_op3_no_bwd(up, &grad, &SiluMulGrad::Up)?;
        let d_gate = gate.apply_op3_no_bwd(up, &grad, &SiluMulGrad::Gate)?;
        Ok((Some(d_gate), Some(d_up)))
    }
}

/// One input's gradient of [`SiluMul`], from (gate, up, the output's gradient).
enum SiluMulGrad {
    /// grad · silu(gate).
    Up,
    /// grad · up · silu'(gate), with silu'(x) = σ(x) · (1 + x · (1 − σ(x))).
    Gate,
}

impl CustomOp3 for SiluMulGrad {
    fn name(&self) -> &'static str {
        "valuelab-silu-mul-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
        ds: &CpuStorage,
        dl: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let inputs = [(gs, gl), (us, ul), (ds, dl)];
        match self {
            SiluMulGrad::Up => zip_map(inputs, self.name(), |[g, _, d]| d * silu(g)),
            SiluMulGrad::Gate => zip_map(inputs, self.name(), |[g, u, d]| {
                let sigmoid = 1.0 / (1.0 + (-g).exp());
                d * u * sigmoid * (1.0 + g * (1.0 - sigmoid))
            }),
        }
    }
}

/// Hugging Face's "rotate half" rotary embedding of `x` (batch, heads, time, head dim) by the
/// tables `cos` and `sin` (batch, time, head dim / 2).
pub(super) fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> crate::Result<Tensor> {
    Ok(x.contiguous()?
        .apply_op3(cos, sin, Rope { inverse: false })?)
}

/// Rotates each pair (x[i], x[i + half]) by the position's angle; `inverse` rotates it back,
/// which is also the backward pass (a rotation's transpose is its inverse).
struct Rope {
    inverse: bool,
}

impl CustomOp3 for Rope {
    fn name(&self) -> &'static str {
        "valuelab-rope"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        cs: &CpuStorage,
        cl: &Layout,
        ss: &CpuStorage,
        sl: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, cos, sin) = (
            slice(xs, xl, name)?,
            slice(cs, cl, name)?,
            slice(ss, sl, name)?,
        );
        let &[_, heads, time, dim] = xl.dims() else {
            candle_core::bail!("{name}: x has to be (batch, heads, time, head dim)")
        };
        let half = dim / 2;
        if cos.len() != sin.len() || cos.len() * 2 * heads != x.len() {
            candle_core::bail!("{name}: the tables have to be (batch, time, head dim / 2)")
        }
        let sign = if self.inverse { -1.0 } else { 1.0 };
        // One row per (batch row, head): its time × dim block and its batch row's tables.
        let out = map_rows(time * dim, 1, [x], |block, out, [x]| {
            let tables = (block / heads) * time * half;
            for t in 0..time {
                let at = tables + t * half;
                let (cos, sin) = (&cos[at..at + half], &sin[at..at + half]);
                let (x, out) = (&x[t * dim..(t + 1) * dim], &mut out[t * dim..(t + 1) * dim]);
                let (x1, x2) = x.split_at(half);
                let (o1, o2) = out.split_at_mut(half);
                for i in 0..half {
                    let s = sign * sin[i];
                    o1[i] = x1[i] * cos[i] - x2[i] * s;
                    o2[i] = x2[i] * cos[i] + x1[i] * s;
                }
            }
        });
        Ok(output(out, xl))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> OpResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let back = Rope {
            inverse: !self.inverse,
        };
        let dx = grad.contiguous()?.apply_op3_no_bwd(cos, sin, &back)?;
        Ok((Some(dx), None, None))
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
