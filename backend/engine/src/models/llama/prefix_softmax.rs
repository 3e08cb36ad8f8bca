//! The softmax of attention over shared prefixes, in inference on the CPU in f32, as parallel
//! passes over rows: each row's maximum, `exp(x − max)` in one pass, each row's sum.
//!
//! Why by hand: attention over a shared prefix cannot use candle's fused softmax (the scores of
//! the prefix and of the row's own positions are separate tensors, never joined), and the
//! composed ops cost more than the softmax itself: candle's `max_keepdim` and `sum_keepdim` run
//! on one thread, and `broadcast_sub` then `exp` are two passes over memory. Under a persona of
//! ~530 positions a batch of 16 items has ~9 MB of prefix scores per layer (docs/performance.md,
//! part 4). Inference only: these ops have no backward, and training keeps candle's ops.

use super::fused::{map_rows, output, slice, OpResult, MIN_ROWS_PER_TASK};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

#[derive(Clone, Copy)]
enum Reduction {
    Max,
    Sum,
}

/// Each row's maximum over the last dimension, kept as a dimension of 1.
pub(super) fn row_max(x: &Tensor) -> crate::Result<Tensor> {
    Ok(x.contiguous()?
        .apply_op1_no_bwd(&RowReduce(Reduction::Max))?)
}

/// Each row's sum over the last dimension, kept as a dimension of 1.
pub(super) fn row_sum(x: &Tensor) -> crate::Result<Tensor> {
    Ok(x.contiguous()?
        .apply_op1_no_bwd(&RowReduce(Reduction::Sum))?)
}

struct RowReduce(Reduction);

impl CustomOp1 for RowReduce {
    fn name(&self) -> &'static str {
        match self.0 {
            Reduction::Max => "valuelab-row-max",
            Reduction::Sum => "valuelab-row-sum",
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> OpResult<(CpuStorage, Shape)> {
        let x = slice(storage, layout, self.name())?;
        let width = layout.dims().last().copied().unwrap_or(1).max(1);
        let reduction = self.0;
        let mut out = vec![0f32; x.len() / width];
        out.par_iter_mut()
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(row, out)| {
                let row = &x[row * width..(row + 1) * width];
                *out = match reduction {
                    Reduction::Max => row.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    Reduction::Sum => row.iter().sum(),
                };
            });
        let mut dims = layout.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = 1;
        }
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

/// `exp(x − m)` with `m` one value per row of `x` (x's shape with a last dimension of 1), in one
/// pass; the same numbers as candle's `broadcast_sub` then `exp`.
pub(super) fn exp_minus(x: &Tensor, m: &Tensor) -> crate::Result<Tensor> {
    Ok(x.contiguous()?
        .apply_op2_no_bwd(&m.contiguous()?, &ExpMinus)?)
}

struct ExpMinus;

impl CustomOp2 for ExpMinus {
    fn name(&self) -> &'static str {
        "valuelab-exp-minus"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
    ) -> OpResult<(CpuStorage, Shape)> {
        let (x, m) = (slice(xs, xl, self.name())?, slice(ms, ml, self.name())?);
        let width = xl.dims().last().copied().unwrap_or(1).max(1);
        if m.len() * width != x.len() {
            candle_core::bail!(
                "{}: {} values to subtract for {} rows",
                self.name(),
                m.len(),
                x.len() / width
            );
        }
        let out = map_rows(width, MIN_ROWS_PER_TASK, [x], |row, out, [x]| {
            for (o, x) in out.iter_mut().zip(x) {
                *o = (x - m[row]).exp();
            }
        });
        Ok(output(out, xl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::{max_abs_diff, rand_tensor};
    use candle_core::D;

    #[test]
    fn row_passes_equal_candles_ops() {
        // Rows of 37 (not a multiple of any vector width), enough rows to split across threads.
        let x = (rand_tensor((96, 37), 7) * 8.0)
            .unwrap()
            .reshape((2, 3, 16, 37))
            .unwrap();
        let max = row_max(&x).unwrap();
        assert_eq!(max.dims(), &[2, 3, 16, 1]);
        assert_eq!(max_abs_diff(&max, &x.max_keepdim(D::Minus1).unwrap()), 0.0);
        let weights = exp_minus(&x, &max).unwrap();
        let composed = x.broadcast_sub(&max).unwrap().exp().unwrap();
        assert_eq!(max_abs_diff(&weights, &composed), 0.0);
        let sum = row_sum(&weights).unwrap();
        assert!(max_abs_diff(&sum, &composed.sum_keepdim(D::Minus1).unwrap()) < 1e-5);
        // A strided input is read in its logical order.
        let t = x.transpose(2, 3).unwrap();
        assert_eq!(
            max_abs_diff(&row_max(&t).unwrap(), &t.max_keepdim(D::Minus1).unwrap()),
            0.0
        );
    }

    #[test]
    fn exp_minus_refuses_a_maximum_per_row_of_another_shape() {
        let x = rand_tensor((4, 5), 1);
        let wrong = rand_tensor((3, 1), 2);
        assert!(exp_minus(&x, &wrong).is_err());
    }
}
