//! Test helpers of the conditioners' training: progress that says nothing, and arguments that
//! express one chosen value.

use super::train_offset::{OffsetProgress, ValidationPoint};
use crate::data::touche::{Argument, Stance};
use valuelab_common::VALUE_COUNT;

pub struct Quiet;

impl OffsetProgress for Quiet {
    fn step(&mut self, _: usize, _: usize, _: f64, _: usize, _: f64) {}
    fn validated(&mut self, _: &ValidationPoint) {}
    fn cancelled(&self) -> bool {
        false
    }
}

/// An argument in favour of "thing `id`" that expresses only value `value` (an index).
pub fn argument(id: usize, value: usize) -> Argument {
    let mut values = [false; VALUE_COUNT];
    values[value] = true;
    Argument {
        id,
        conclusion: format!("we should do thing {id}"),
        stance: Stance::InFavorOf,
        premise: format!("it matters for reason {id}"),
        values,
    }
}
