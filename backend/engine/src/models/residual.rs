//! Additive offsets of the residual stream: `h += o` after chosen blocks, at every position.
//! Profile conditioning uses them (`conditioning`): a learned map from a value profile to an
//! offset, or a sum of steering vectors. An offset has one row for the whole batch or one row
//! per batch row, so a training batch can mix profiles while inference conditions one group.
//!
//! A readout ([`Readout`]) acts after the final norm instead: `h += (h·g + s) d`. With a gate `g`
//! it depends on the position's own hidden state, so an item whose state lines up with `g` is
//! pushed along `d` and an item orthogonal to it is left alone; with a shift `s` it moves each
//! batch row by an amount fixed beforehand, which is how an item's value relevance, read from
//! its text in a pass of its own, reaches its answer (`profile-readout`).

use crate::{Error, Result};
use candle_core::Tensor;

#[derive(Debug, Clone, Default)]
pub struct ResidualOffsets {
    /// (block index, offset of shape (rows, hidden)); at most one per block.
    by_layer: Vec<(usize, Tensor)>,
    readout: Option<Readout>,
}

/// A shift of the final-norm hidden state `h` along `direction` by `h·gate + shift`.
#[derive(Debug, Clone)]
pub struct Readout {
    /// (rows, hidden): one gate for the whole batch or one per batch row.
    pub gate: Option<Tensor>,
    /// (rows, 1): an amount for the whole batch or one per batch row, at every position.
    pub shift: Option<Tensor>,
    /// (1, hidden).
    pub direction: Tensor,
}

/// `h + amount·direction`: hidden states `h` (.., hidden) moved along `direction` (1, hidden)
/// by `amount` (.., 1), one amount per row (and position). What a readout does after the final
/// norm, and what scoring does at an item's answer positions when each item has its own amount
/// (`generate::ItemShifts`).
pub fn move_along(h: &Tensor, amount: &Tensor, direction: &Tensor) -> Result<Tensor> {
    let direction = direction.to_dtype(h.dtype())?;
    Ok(h.broadcast_add(&amount.to_dtype(h.dtype())?.broadcast_mul(&direction)?)?)
}

impl ResidualOffsets {
    /// Offsets after the given blocks; a block named twice gets the sum.
    pub fn new(offsets: Vec<(usize, Tensor)>) -> Result<Self> {
        let mut by_layer: Vec<(usize, Tensor)> = Vec::new();
        for (layer, offset) in offsets {
            match by_layer.iter_mut().find(|(l, _)| *l == layer) {
                Some((_, sum)) => *sum = sum.broadcast_add(&offset)?,
                None => by_layer.push((layer, offset)),
            }
        }
        Ok(Self {
            by_layer,
            readout: None,
        })
    }

    /// The same offsets with `readout` after the final norm.
    pub fn with_readout(mut self, readout: Readout) -> Self {
        self.readout = Some(readout);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_layer.is_empty() && self.readout.is_none()
    }

    pub fn layers(&self) -> Vec<usize> {
        self.by_layer.iter().map(|(l, _)| *l).collect()
    }

    /// Checks every offset against a model of `num_layers` blocks and `hidden` width.
    pub fn check(&self, num_layers: usize, hidden: usize) -> Result<()> {
        for (layer, offset) in &self.by_layer {
            if *layer >= num_layers {
                return Err(Error::invalid(format!(
                    "residual offset at layer {layer}, but the model has {num_layers} layers (0..{})",
                    num_layers.saturating_sub(1)
                )));
            }
            let dims = offset.dims();
            if dims.len() != 2 || dims[1] != hidden {
                return Err(Error::invalid(format!(
                    "residual offset at layer {layer} has shape {dims:?}; expected (rows, {hidden})"
                )));
            }
        }
        if let Some(readout) = &self.readout {
            let direction = readout.direction.dims();
            let gate = readout.gate.as_ref().map(|g| g.dims().to_vec());
            let shift = readout.shift.as_ref().map(|s| s.dims().to_vec());
            let gate_ok = gate.as_ref().is_none_or(|g| g.len() == 2 && g[1] == hidden);
            let shift_ok = shift.as_ref().is_none_or(|s| s.len() == 2 && s[1] == 1);
            if !gate_ok || !shift_ok || direction != [1, hidden] {
                return Err(Error::invalid(format!(
                    "a readout has gate {gate:?}, shift {shift:?} and direction {direction:?}; expected (rows, {hidden}), (rows, 1) and (1, {hidden})"
                )));
            }
        }
        Ok(())
    }

    /// The final-norm hidden states `h` (batch, time, hidden) shifted by the readout, if any.
    pub fn read_out(&self, h: Tensor) -> Result<Tensor> {
        let Some(readout) = &self.readout else {
            return Ok(h);
        };
        let batch = h.dim(0)?;
        let rows_fit = |what: &str, t: &Tensor| -> Result<Tensor> {
            let rows = t.dim(0)?;
            if rows != 1 && rows != batch {
                return Err(Error::invalid(format!(
                    "a readout {what} has {rows} rows for a batch of {batch}"
                )));
            }
            Ok(t.unsqueeze(1)?.to_dtype(h.dtype())?)
        };
        let mut amount: Option<Tensor> = None;
        if let Some(gate) = &readout.gate {
            amount = Some(h.broadcast_mul(&rows_fit("gate", gate)?)?.sum_keepdim(2)?);
        }
        if let Some(shift) = &readout.shift {
            let shift = rows_fit("shift", shift)?;
            amount = Some(match amount {
                Some(a) => a.broadcast_add(&shift)?,
                None => shift,
            });
        }
        let Some(amount) = amount else {
            return Ok(h);
        };
        move_along(&h, &amount, &readout.direction)
    }

    /// `x` (batch, time, hidden) after block `layer`, plus that block's offset if it has one.
    pub fn add_after(&self, layer: usize, x: Tensor) -> Result<Tensor> {
        let Some((_, offset)) = self.by_layer.iter().find(|(l, _)| *l == layer) else {
            return Ok(x);
        };
        let (batch, rows) = (x.dim(0)?, offset.dim(0)?);
        if rows != 1 && rows != batch {
            return Err(Error::invalid(format!(
                "residual offset at layer {layer} has {rows} rows for a batch of {batch}"
            )));
        }
        Ok(x.broadcast_add(&offset.unsqueeze(1)?.to_dtype(x.dtype())?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::llama::{random_model, Config};
    use crate::models::testing::max_abs_diff;
    use crate::models::{Input, Llama, Mode};
    use candle_core::{DType, Device, Var};

    fn tiny() -> Llama {
        random_model(&Config::tiny(50), 42, &Device::Cpu).unwrap()
    }

    fn batch() -> Input {
        Input::left_padded(
            &[vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
            &[0, 0],
            0,
            &Device::Cpu,
        )
        .unwrap()
    }

    fn logits(model: &Llama) -> Tensor {
        let hidden = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        model.logits(&hidden).unwrap()
    }

    #[test]
    fn a_zero_offset_changes_nothing_and_a_real_one_changes_the_logits() {
        let mut model = tiny();
        let plain = logits(&model);
        let hidden = model.config().hidden_size;
        let zero = Tensor::zeros((1, hidden), DType::F32, &Device::Cpu).unwrap();
        model
            .set_residual_offsets(ResidualOffsets::new(vec![(0, zero)]).unwrap())
            .unwrap();
        assert_eq!(max_abs_diff(&plain, &logits(&model)), 0.0);

        let push = Tensor::ones((1, hidden), DType::F32, &Device::Cpu).unwrap();
        model
            .set_residual_offsets(ResidualOffsets::new(vec![(1, push.clone())]).unwrap())
            .unwrap();
        let pushed = logits(&model);
        assert!(max_abs_diff(&plain, &pushed) > 1e-3);
        // One row for the batch equals the same row given per batch row.
        let per_row = Tensor::cat(&[&push, &push], 0).unwrap();
        model
            .set_residual_offsets(ResidualOffsets::new(vec![(1, per_row)]).unwrap())
            .unwrap();
        assert!(max_abs_diff(&pushed, &logits(&model)) < 1e-6);
        // Removing the offsets restores the model.
        model
            .set_residual_offsets(ResidualOffsets::default())
            .unwrap();
        assert_eq!(max_abs_diff(&plain, &logits(&model)), 0.0);
    }

    #[test]
    fn offsets_are_checked_against_the_model() {
        let mut model = tiny();
        let hidden = model.config().hidden_size;
        let layers = model.config().num_layers;
        let row = Tensor::zeros((1, hidden), DType::F32, &Device::Cpu).unwrap();
        let err = model
            .set_residual_offsets(ResidualOffsets::new(vec![(layers, row)]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("the model has {layers} layers")),
            "{err}"
        );
        let wide = Tensor::zeros((1, hidden + 1), DType::F32, &Device::Cpu).unwrap();
        assert!(model
            .set_residual_offsets(ResidualOffsets::new(vec![(0, wide)]).unwrap())
            .is_err());
        let three_rows = Tensor::zeros((3, hidden), DType::F32, &Device::Cpu).unwrap();
        model
            .set_residual_offsets(ResidualOffsets::new(vec![(0, three_rows)]).unwrap())
            .unwrap();
        let err = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap_err()
            .to_string();
        assert!(err.contains("3 rows for a batch of 2"), "{err}");
    }

    #[test]
    fn gradients_of_a_profile_map_reach_only_the_map() {
        let mut model = tiny();
        let hidden = model.config().hidden_size;
        let w = Var::zeros((10, hidden), DType::F32, &Device::Cpu).unwrap();
        let z = Tensor::new(
            &[[0.5f32, -1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, -0.5, 0.0]; 2],
            &Device::Cpu,
        )
        .unwrap();
        let offset = z.matmul(w.as_tensor()).unwrap();
        model
            .set_residual_offsets(ResidualOffsets::new(vec![(0, offset)]).unwrap())
            .unwrap();
        let hidden_states = model
            .forward_hidden(&batch(), None, Mode::Training)
            .unwrap();
        let loss = model
            .logits(&hidden_states)
            .unwrap()
            .narrow(2, 7, 1)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let grad = grads.get(w.as_tensor()).expect("the map gets a gradient");
        let size = grad
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(size > 0.0, "{size}");
        for weight in model.frozen_weights() {
            assert!(
                grads.get(weight).is_none(),
                "a frozen weight got a gradient"
            );
        }
    }

    #[test]
    fn a_readout_shifts_each_state_along_its_direction_by_its_gate() {
        let mut model = tiny();
        let plain = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        let hidden = model.config().hidden_size;
        let zeros = Tensor::zeros((1, hidden), DType::F32, &Device::Cpu).unwrap();
        let direction = Tensor::ones((1, hidden), DType::F32, &Device::Cpu).unwrap();
        let readout = |gate: &Tensor| {
            ResidualOffsets::default().with_readout(Readout {
                gate: Some(gate.clone()),
                shift: None,
                direction: direction.clone(),
            })
        };
        model.set_residual_offsets(readout(&zeros)).unwrap();
        assert!(!model.residual_offsets().is_empty());
        let shifted = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        assert_eq!(
            max_abs_diff(&plain, &shifted),
            0.0,
            "a zero gate moves nothing"
        );

        // The second row's gate picks the first hidden unit; the first row's is zero.
        let mut unit = vec![0f32; 2 * hidden];
        unit[hidden] = 2.0;
        let gate = Tensor::from_vec(unit, (2, hidden), &Device::Cpu).unwrap();
        model.set_residual_offsets(readout(&gate)).unwrap();
        let shifted = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        let (row0, row1) = (shifted.get(0).unwrap(), shifted.get(1).unwrap());
        assert_eq!(max_abs_diff(&plain.get(0).unwrap(), &row0), 0.0);
        let first_unit = plain.get(1).unwrap().narrow(1, 0, 1).unwrap();
        let expected = plain
            .get(1)
            .unwrap()
            .broadcast_add(&(first_unit * 2.0).unwrap())
            .unwrap();
        assert!(max_abs_diff(&expected, &row1) < 1e-5);

        let wrong = Tensor::zeros((1, hidden + 1), DType::F32, &Device::Cpu).unwrap();
        let err = model
            .set_residual_offsets(readout(&wrong))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a readout has gate"), "{err}");
        let three = Tensor::zeros((3, hidden), DType::F32, &Device::Cpu).unwrap();
        model.set_residual_offsets(readout(&three)).unwrap();
        let err = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap_err()
            .to_string();
        assert!(err.contains("3 rows for a batch of 2"), "{err}");
    }

    #[test]
    fn a_readout_shift_moves_each_row_by_its_own_amount_at_every_position() {
        let mut model = tiny();
        let plain = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        let hidden = model.config().hidden_size;
        let mut unit = vec![0f32; hidden];
        unit[2] = 1.0;
        let direction = Tensor::from_vec(unit, (1, hidden), &Device::Cpu).unwrap();
        let shifts = Tensor::new(&[[0.0f32], [1.5]], &Device::Cpu).unwrap();
        let readout = |shift: Tensor| {
            ResidualOffsets::default().with_readout(Readout {
                gate: None,
                shift: Some(shift),
                direction: direction.clone(),
            })
        };
        model.set_residual_offsets(readout(shifts)).unwrap();
        let shifted = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap();
        assert_eq!(
            max_abs_diff(&plain.get(0).unwrap(), &shifted.get(0).unwrap()),
            0.0
        );
        let moved = (shifted.get(1).unwrap() - plain.get(1).unwrap()).unwrap();
        let expected = Tensor::ones((4, 1), DType::F32, &Device::Cpu)
            .unwrap()
            .matmul(&(&direction * 1.5).unwrap())
            .unwrap();
        assert!(max_abs_diff(&moved, &expected) < 1e-5);

        let wide = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
        let err = model
            .set_residual_offsets(readout(wide))
            .unwrap_err()
            .to_string();
        assert!(err.contains("shift Some([2, 2])"), "{err}");
        let three = Tensor::zeros((3, 1), DType::F32, &Device::Cpu).unwrap();
        model.set_residual_offsets(readout(three)).unwrap();
        let err = model
            .forward_hidden(&batch(), None, Mode::Inference)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shift has 3 rows for a batch of 2"), "{err}");
    }

    #[test]
    fn the_residual_after_the_last_layer_is_the_stream_before_the_final_norm() {
        let model = tiny();
        let layers = model.config().num_layers;
        let input = Input::from_tokens(&[1, 2, 3], 0, &Device::Cpu).unwrap();
        let stream = model.residual_stream(&input, layers - 1).unwrap();
        assert_eq!(stream.len(), layers);
        let (early, last) = (&stream[0], &stream[layers - 1]);
        assert_eq!(early.dims(), &[1, 3, model.config().hidden_size]);
        assert!(max_abs_diff(early, last) > 1e-4);
        assert!(model.residual_stream(&input, layers).is_err());
    }
}
