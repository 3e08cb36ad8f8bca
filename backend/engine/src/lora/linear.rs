//! Linear layers of the frozen base model, optionally carrying a LoRA adapter.
//!
//! candle's backward pass computes the gradient of both operands of every matmul, frozen
//! weights included (ENGINE-NOTES trap 2: for SmolLM2 that includes the 49152×576 tied output
//! layer). [`FrozenLinear`] is a custom op whose backward returns only the input gradient,
//! which is all LoRA training needs.
//!
//! A frozen layer may also hold a quantised copy of its weight ([`QuantizedWeight`]) that
//! decoding steps multiply by; everything else uses the f32 weight.

use crate::lora::quantized::QuantizedWeight;
use crate::lora::LoraConfig;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, Shape, Storage, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;

/// `y = x·Wᵀ (+ b)` with `W` of shape (out, in) held constant.
#[derive(Debug, Clone)]
pub struct FrozenLinear {
    weight: Tensor,
    bias: Option<Tensor>,
    /// Whether decoding steps multiply by a quantised copy of the weight.
    quantize: bool,
    /// That copy, made by the first decoding step (scoring-only work never pays for it); None
    /// inside where Q8_0 cannot hold the weight.
    quantized: OnceLock<Option<QuantizedWeight>>,
}

struct FrozenMatmul {
    weight: Tensor,
}

/// `x` (…, k) times `wᵀ` for `w` (n, k), on any backend's storage; `x` must be contiguous.
fn matmul_transposed<S: BackendStorage>(
    x: &S,
    x_layout: &Layout,
    w: &S,
    w_layout: &Layout,
) -> candle_core::Result<(S, Shape)> {
    let dims = x_layout.dims();
    let k = *dims
        .last()
        .ok_or_else(|| candle_core::Error::Msg("frozen linear on a scalar".into()))?;
    let (n, w_k) = w_layout.shape().dims2()?;
    if k != w_k {
        candle_core::bail!("frozen linear: input has {k} features, weight expects {w_k}");
    }
    let m = x_layout.shape().elem_count() / k.max(1);
    let lhs = Layout::contiguous_with_offset((m, k), x_layout.start_offset());
    let out = x.matmul(w, (1, m, n, k), &lhs, &w_layout.transpose(0, 1)?)?;
    let mut out_dims = dims.to_vec();
    if let Some(last) = out_dims.last_mut() {
        *last = n;
    }
    Ok((out, Shape::from(out_dims)))
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, x: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (w, w_layout) = self.weight.storage_and_layout();
        match &*w {
            Storage::Cpu(w) => matmul_transposed(x, layout, w, w_layout),
            _ => candle_core::bail!("frozen linear: input is on the cpu but the weight is not"),
        }
    }

    fn cuda_fwd(
        &self,
        x: &CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        let (w, w_layout) = self.weight.storage_and_layout();
        match &*w {
            Storage::Cuda(w) => matmul_transposed(x, layout, w, w_layout),
            _ => candle_core::bail!("frozen linear: input is on cuda but the weight is not"),
        }
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // dL/dx = dL/dy · W; no gradient for W, which never trains.
        Ok(Some(grad.broadcast_matmul(&self.weight)?))
    }
}

impl FrozenLinear {
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> candle_core::Result<Self> {
        Ok(Self {
            weight: weight.detach().contiguous()?,
            bias: bias.map(|b| b.detach()),
            quantize: false,
            quantized: OnceLock::new(),
        })
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Lets decoding steps multiply by a quantised copy of the weight, made on first use (or
    /// with `false` drops it). Only on the CPU; a weight whose input size Q8_0 cannot block
    /// stays f32 only.
    pub fn set_quantized(&mut self, on: bool) {
        let on = on && self.weight.device().is_cpu();
        if on != self.quantize {
            self.quantize = on;
            self.quantized = OnceLock::new();
        }
    }

    /// The quantised copy, made now if decoding steps use one and it does not exist yet.
    pub fn quantized_now(&self) -> candle_core::Result<Option<&QuantizedWeight>> {
        if !self.quantize {
            return Ok(None);
        }
        if self.quantized.get().is_none() {
            // Two threads may both quantise; one copy is kept, both are equal.
            let _ = self.quantized.set(QuantizedWeight::of(&self.weight)?);
        }
        Ok(self.quantized.get().and_then(Option::as_ref))
    }

    /// The quantised copy if one has been made.
    pub fn quantized(&self) -> Option<&QuantizedWeight> {
        self.quantized.get().and_then(Option::as_ref)
    }

    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }

    /// `x·Wᵀ (+ b)` by the f32 weight.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, false)
    }

    /// `x·Wᵀ (+ b)` by the quantised copy where there is one and no gradient has to pass
    /// ([`QuantizedWeight::forward`]), else by the f32 weight.
    pub fn forward_quantized(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, true)
    }

    fn forward_with(&self, x: &Tensor, quantized: bool) -> candle_core::Result<Tensor> {
        let quantized = match quantized {
            true => match self.quantized_now()? {
                Some(q) => q.forward(x)?,
                None => None,
            },
            false => None,
        };
        let y = match quantized {
            Some(y) => y,
            None => x.contiguous()?.apply_op1(FrozenMatmul {
                weight: self.weight.clone(),
            })?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// The adapter's two factors: `A` (r, in) and `B` (out, r); the update is `scale·B·A`.
#[derive(Debug, Clone)]
pub struct LoraWeights {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
    pub dropout: f64,
}

/// A frozen linear layer plus an optional adapter.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    base: FrozenLinear,
    lora: Option<LoraWeights>,
}

/// Dropout randomness for adapter inputs during training. Seeded so runs are reproducible.
#[derive(Debug)]
pub struct DropoutRng(ChaCha8Rng);

impl DropoutRng {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    fn mask(&mut self, x: &Tensor, p: f64) -> candle_core::Result<Tensor> {
        let keep = 1.0 - p;
        let values: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.0.random::<f64>() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::from_vec(values, x.shape(), x.device())?.to_dtype(x.dtype())
    }
}

impl LoraLinear {
    pub fn new(base: FrozenLinear) -> Self {
        Self { base, lora: None }
    }

    pub fn base(&self) -> &FrozenLinear {
        &self.base
    }

    pub fn base_mut(&mut self) -> &mut FrozenLinear {
        &mut self.base
    }

    pub fn lora(&self) -> Option<&LoraWeights> {
        self.lora.as_ref()
    }

    pub fn set_lora(&mut self, lora: LoraWeights) -> crate::Result<()> {
        let (r, a_in) = lora.a.dims2()?;
        let (b_out, b_r) = lora.b.dims2()?;
        if a_in != self.base.in_features() || b_out != self.base.out_features() || r != b_r {
            return Err(crate::Error::invalid(format!(
                "lora shapes A {:?} and B {:?} do not fit a {}×{} layer (expected A (r, {}) and B ({}, r))",
                lora.a.dims(),
                lora.b.dims(),
                self.base.out_features(),
                self.base.in_features(),
                self.base.in_features(),
                self.base.out_features()
            )));
        }
        self.lora = Some(lora);
        Ok(())
    }

    /// Fresh trainable factors as PEFT initialises them: A ~ U(−1/√in, 1/√in) (kaiming-uniform
    /// with a = √5), B = 0, so the adapted layer starts equal to the base layer.
    pub fn init_lora_factors(
        &self,
        cfg: &LoraConfig,
        seed: u64,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let fan_in = self.base.in_features();
        let bound = 1.0 / (fan_in as f64).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a: Vec<f32> = (0..cfg.r * fan_in)
            .map(|_| rng.random_range(-bound..bound) as f32)
            .collect();
        let device = self.base.weight.device();
        let a = Tensor::from_vec(a, (cfg.r, fan_in), device)?;
        let b = Tensor::zeros(
            (self.base.out_features(), cfg.r),
            self.base.weight.dtype(),
            device,
        )?;
        Ok((a, b))
    }

    /// `x·Wᵀ + scale·dropout(x)·Aᵀ·Bᵀ`; dropout only when `rng` is given (training).
    pub fn forward(&self, x: &Tensor, rng: Option<&mut DropoutRng>) -> candle_core::Result<Tensor> {
        self.forward_with(x, rng, false)
    }

    /// As [`Self::forward`] without dropout, the base product by the quantised copy of the
    /// weight where there is one ([`FrozenLinear::forward_quantized`]); the adapter stays f32.
    pub fn forward_quantized(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, None, true)
    }

    fn forward_with(
        &self,
        x: &Tensor,
        rng: Option<&mut DropoutRng>,
        quantized: bool,
    ) -> candle_core::Result<Tensor> {
        let y = self.base.forward_with(x, quantized)?;
        let Some(lora) = &self.lora else { return Ok(y) };
        let x = match rng {
            Some(rng) if lora.dropout > 0.0 => (x * rng.mask(x, lora.dropout)?)?,
            _ => x.clone(),
        };
        let update = x
            .broadcast_matmul(&lora.a.t()?)?
            .broadcast_matmul(&lora.b.t()?)?;
        y + (update * lora.scale)?
    }

    /// Folds the adapter into the base weight (`W + scale·B·A`) for adapter-free inference speed.
    pub fn merge(&mut self) -> candle_core::Result<()> {
        if let Some(lora) = self.lora.take() {
            let delta = (lora.b.matmul(&lora.a)? * lora.scale)?;
            let weight = (self.base.weight.detach() + delta.detach())?;
            let quantize = self.base.quantize;
            self.base = FrozenLinear::new(weight, self.base.bias.clone())?;
            self.base.set_quantized(quantize);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::{max_abs_diff, rand_tensor};
    use candle_core::{Device, Var};

    #[test]
    fn frozen_linear_matches_a_plain_matmul_on_batched_input() {
        let w = rand_tensor((5, 3), 1);
        let x = rand_tensor((8, 3), 2).reshape((2, 4, 3)).unwrap();
        let frozen = FrozenLinear::new(w.clone(), None).unwrap();
        let y = frozen.forward(&x).unwrap();
        assert_eq!(y.dims(), &[2, 4, 5]);
        let expected = x.broadcast_matmul(&w.t().unwrap()).unwrap();
        assert!(max_abs_diff(&y, &expected) < 1e-6);
    }

    #[test]
    fn frozen_linear_backward_gives_the_input_gradient_only() {
        let w = rand_tensor((4, 3), 3);
        let x = Var::from_tensor(&rand_tensor((2, 3), 4)).unwrap();
        let frozen = FrozenLinear::new(w.clone(), None).unwrap();
        let grads = frozen
            .forward(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx = grads.get(x.as_tensor()).unwrap();
        // d(sum(x·Wᵀ))/dx = 1·W summed over outputs: every row equals the column sums of W.
        let expected = Tensor::ones((2, 4), candle_core::DType::F32, &Device::Cpu)
            .unwrap()
            .matmul(&w)
            .unwrap();
        assert!(max_abs_diff(gx, &expected) < 1e-6);
        assert!(grads.get(frozen.weight()).is_none());
    }

    #[test]
    fn merged_adapter_equals_unmerged() {
        let cfg = LoraConfig::default();
        let mut layer = LoraLinear::new(FrozenLinear::new(rand_tensor((6, 4), 5), None).unwrap());
        let (a, _) = layer.init_lora_factors(&cfg, 7).unwrap();
        let b = rand_tensor((6, cfg.r), 8);
        layer
            .set_lora(LoraWeights {
                a,
                b,
                scale: cfg.scale(),
                dropout: 0.0,
            })
            .unwrap();
        let x = rand_tensor((3, 4), 9);
        let unmerged = layer.forward(&x, None).unwrap();
        layer.merge().unwrap();
        assert!(layer.lora().is_none());
        assert!(max_abs_diff(&unmerged, &layer.forward(&x, None).unwrap()) < 1e-5);
    }

    #[test]
    fn wrong_adapter_shapes_are_rejected_with_the_expected_shapes() {
        let mut layer = LoraLinear::new(FrozenLinear::new(rand_tensor((6, 4), 5), None).unwrap());
        let err = layer
            .set_lora(LoraWeights {
                a: rand_tensor((8, 5), 1),
                b: rand_tensor((6, 8), 2),
                scale: 2.0,
                dropout: 0.0,
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("expected A (r, 4) and B (6, r)"),
            "{err}"
        );
    }
}
