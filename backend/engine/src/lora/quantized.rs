//! A quantised copy of a frozen weight for decoding steps (generation after the prompt).
//!
//! A step of one token per row reads every weight once for a handful of rows, so its time is
//! the time to read the weights: the f32 copy of SmolLM2 is 540 MB, its Q8_0 copy 143 MB.
//! candle's `QMatMul` kernels also quantise the rows (to Q8_0) and multiply in integers. For
//! many rows (prompts, scoring, training) the f32 gemm is 3–7 times faster than those kernels
//! (docs/performance.md), so the f32 weight stays and is used there.
//!
//! Which weights a forward pass uses is the caller's choice (`Llama::decode_step`), never the
//! row count's: an answer must not depend on how items were batched (a resumed evaluation
//! batches them differently).
//!
//! Q8_0 rather than the GGUF's own Q4_1: candle has no x86 kernel for Q4_1 (it is slower than
//! f32 at every shape measured), and Q8_0 requantised from the dequantised Q4_1 weights adds
//! about a tenth of Q4_1's own rounding error.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;
use std::sync::Arc;

/// The weights multiplied by the quantised kernels.
pub const QUANTIZED_DTYPE: GgmlDType = GgmlDType::Q8_0;

#[derive(Debug, Clone)]
pub struct QuantizedWeight {
    weight: Arc<QTensor>,
}

impl QuantizedWeight {
    /// The Q8_0 copy of `weight` (out, in), or None where Q8_0 cannot hold it: its input
    /// dimension must be a multiple of the 32-value block.
    pub fn of(weight: &Tensor) -> candle_core::Result<Option<Self>> {
        let (_, k) = weight.dims2()?;
        if !k.is_multiple_of(QUANTIZED_DTYPE.block_size()) {
            return Ok(None);
        }
        Ok(Some(Self {
            weight: Arc::new(QTensor::quantize(weight, QUANTIZED_DTYPE)?),
        }))
    }

    /// `x·Wᵀ` when no gradient has to pass through it; None otherwise (the caller multiplies by
    /// the f32 weight). `track_op` is false exactly when nothing trainable lies upstream of `x`,
    /// and the quantised kernels have no backward pass.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Option<Tensor>> {
        if x.track_op() || !x.device().is_cpu() {
            return Ok(None);
        }
        x.contiguous()?
            .apply_op1_no_bwd(self.weight.as_ref())
            .map(Some)
    }

    /// Bytes the quantised copy takes.
    pub fn size_in_bytes(&self) -> usize {
        self.weight.storage_size_in_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::{max_abs, max_abs_diff, rand_tensor};
    use candle_core::Var;

    #[test]
    fn the_quantised_product_is_within_a_percent_of_f32() {
        let w = rand_tensor((48, 64), 1);
        let q = QuantizedWeight::of(&w).unwrap().unwrap();
        assert_eq!(q.size_in_bytes(), 48 * 64 / 32 * 34);
        let x = rand_tensor((8, 64), 2);
        let exact = x.matmul(&w.t().unwrap()).unwrap();
        let y = q
            .forward(&x)
            .unwrap()
            .expect("an untracked input takes the quantised path");
        let err = max_abs_diff(&y, &exact);
        let scale = max_abs(&exact);
        // Q8_0 rounds weights and inputs to 1/127 of each 32-value block's largest magnitude.
        assert!(
            err > 0.0,
            "the quantised product should differ from f32 a little"
        );
        assert!(
            err < 0.01 * scale,
            "error {err} against outputs up to {scale}"
        );
    }

    #[test]
    fn inputs_a_gradient_passes_through_keep_f32() {
        let q = QuantizedWeight::of(&rand_tensor((16, 32), 3))
            .unwrap()
            .unwrap();
        assert!(q.forward(&rand_tensor((2, 32), 4)).unwrap().is_some());
        let tracked = Var::from_tensor(&rand_tensor((1, 32), 5)).unwrap();
        assert!(q.forward(tracked.as_tensor()).unwrap().is_none());
        let derived = (tracked.as_tensor() * 2.0).unwrap();
        assert!(q.forward(&derived).unwrap().is_none());
    }

    #[test]
    fn inputs_that_do_not_fill_whole_blocks_stay_f32_only() {
        assert!(QuantizedWeight::of(&rand_tensor((16, 40), 6))
            .unwrap()
            .is_none());
    }
}
