//! AdamW whose state can be saved and restored.
//!
//! `candle_nn::AdamW` keeps its moments and step counter private, so a resumed run would restart
//! them (and with them the bias correction), and would not continue the way an uninterrupted
//! run does. This is the same update, line for line (candle-nn 0.11 `optim.rs`, which follows
//! PyTorch's `torch.optim.AdamW`), with the state exposed; a test checks that both produce the
//! same weights.

use crate::{Error, Result};
use candle_core::{Tensor, Var};
use std::collections::HashMap;

pub use candle_nn::ParamsAdamW;

/// One trainable variable and its moment estimates.
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
}

pub struct AdamW {
    slots: Vec<Slot>,
    /// Optimizer steps taken so far (PyTorch's `state['step']`).
    step_t: usize,
    params: ParamsAdamW,
}

impl AdamW {
    /// `vars` are named so that the state can be saved and matched on resume.
    pub fn new(vars: Vec<(String, Var)>, params: ParamsAdamW) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let m = var.zeros_like()?;
                let v = var.zeros_like()?;
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            slots,
            step_t: 0,
            params,
        })
    }

    pub fn params(&self) -> &ParamsAdamW {
        &self.params
    }

    pub fn steps_taken(&self) -> usize {
        self.step_t
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.slots.iter().map(|s| (s.name.as_str(), &s.var))
    }

    /// One update; `grads[i]` belongs to the i-th variable (`None`: left unchanged, as candle does).
    pub fn step(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        if grads.len() != self.slots.len() {
            return Err(Error::invalid(format!(
                "optimizer got {} gradients for {} variables",
                grads.len(),
                self.slots.len()
            )));
        }
        self.step_t += 1;
        let ParamsAdamW {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.params.clone();
        let scale_m = 1.0 / (1.0 - beta1.powi(self.step_t as i32));
        let scale_v = 1.0 / (1.0 - beta2.powi(self.step_t as i32));
        for (slot, grad) in self.slots.iter_mut().zip(grads) {
            let Some(g) = grad else { continue };
            let next_m = ((&slot.m * beta1)? + (g * (1.0 - beta1))?)?;
            let next_v = ((&slot.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&next_m * scale_m)?;
            let v_hat = (&next_v * scale_v)?;
            let decayed = (slot.var.as_tensor() * (1.0 - lr * weight_decay))?;
            let adjusted = (m_hat / (v_hat.sqrt()? + eps)?)?;
            slot.var.set(&(decayed - (adjusted * lr)?)?)?;
            slot.m = next_m;
            slot.v = next_v;
        }
        Ok(())
    }

    /// The moments as named tensors (`{name}.exp_avg`, `{name}.exp_avg_sq`, PyTorch's names).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .flat_map(|s| {
                [
                    (format!("{}.exp_avg", s.name), s.m.clone()),
                    (format!("{}.exp_avg_sq", s.name), s.v.clone()),
                ]
            })
            .collect()
    }

    /// Restores what `state_tensors` and `steps_taken` saved; every variable must be present.
    pub fn restore(&mut self, tensors: &HashMap<String, Tensor>, steps_taken: usize) -> Result<()> {
        for slot in &mut self.slots {
            for (suffix, target) in [("exp_avg", &mut slot.m), ("exp_avg_sq", &mut slot.v)] {
                let key = format!("{}.{suffix}", slot.name);
                let t = tensors.get(&key).ok_or_else(|| {
                    Error::invalid(format!("optimizer state has no '{key}'; the checkpoint is from another adapter setup"))
                })?;
                if t.dims() != slot.var.dims() {
                    return Err(Error::invalid(format!(
                        "optimizer state '{key}' has shape {:?}, expected {:?}",
                        t.dims(),
                        slot.var.dims()
                    )));
                }
                *target = t.to_dtype(slot.var.dtype())?.to_device(slot.var.device())?;
            }
        }
        self.step_t = steps_taken;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Optimizer;

    #[test]
    fn updates_equal_candle_adamw_step_for_step() {
        let dev = Device::Cpu;
        let params = ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.01,
            ..Default::default()
        };
        let init = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev).unwrap();
        let ours_var = Var::from_tensor(&init).unwrap();
        let theirs_var = Var::from_tensor(&init).unwrap();
        let mut ours = AdamW::new(vec![("w".into(), ours_var.clone())], params.clone()).unwrap();
        let mut theirs = candle_nn::AdamW::new(vec![theirs_var.clone()], params).unwrap();
        let target = Tensor::new(&[[1.0f32, 1.0], [-1.0, 0.0]], &dev).unwrap();
        for _ in 0..5 {
            let loss = |v: &Var| {
                v.as_tensor()
                    .sub(&target)
                    .unwrap()
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
            };
            let g = loss(&ours_var).backward().unwrap();
            ours.step(&[g.get(ours_var.as_tensor()).cloned()]).unwrap();
            theirs.backward_step(&loss(&theirs_var)).unwrap();
        }
        let diff = (ours_var.as_tensor() - theirs_var.as_tensor())
            .unwrap()
            .abs()
            .unwrap();
        assert!(diff.max_all().unwrap().to_scalar::<f32>().unwrap() < 1e-7);
        assert_eq!(ours.steps_taken(), 5);
    }

    #[test]
    fn restored_state_continues_like_the_original() {
        let dev = Device::Cpu;
        let params = ParamsAdamW {
            lr: 0.1,
            ..Default::default()
        };
        let make = || Var::from_tensor(&Tensor::new(&[1.0f32, -2.0, 3.0], &dev).unwrap()).unwrap();
        let grad = |i: usize| Some(Tensor::new(&[0.3f32 * i as f32, -0.1, 0.7], &dev).unwrap());
        let a = make();
        let mut opt_a = AdamW::new(vec![("x".into(), a.clone())], params.clone()).unwrap();
        for i in 0..4 {
            opt_a.step(&[grad(i)]).unwrap();
        }
        // Snapshot after 2 steps, restore into a fresh optimizer, take the last 2 there.
        let b = make();
        let mut opt_b = AdamW::new(vec![("x".into(), b.clone())], params.clone()).unwrap();
        for i in 0..2 {
            opt_b.step(&[grad(i)]).unwrap();
        }
        let state: HashMap<_, _> = opt_b.state_tensors().into_iter().collect();
        let c = Var::from_tensor(b.as_tensor()).unwrap();
        let mut opt_c = AdamW::new(vec![("x".into(), c.clone())], params).unwrap();
        opt_c.restore(&state, opt_b.steps_taken()).unwrap();
        for i in 2..4 {
            opt_c.step(&[grad(i)]).unwrap();
        }
        let diff = (a.as_tensor() - c.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(
            diff.to_dtype(DType::F32)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
    }

    #[test]
    fn missing_state_is_an_error_naming_the_variable() {
        let var = Var::zeros(3, DType::F32, &Device::Cpu).unwrap();
        let mut opt =
            AdamW::new(vec![("layer.lora_A".into(), var)], ParamsAdamW::default()).unwrap();
        let err = opt.restore(&HashMap::new(), 3).err().unwrap().to_string();
        assert!(err.contains("layer.lora_A.exp_avg"), "{err}");
    }
}
