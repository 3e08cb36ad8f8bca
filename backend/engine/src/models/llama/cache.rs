//! What a forward step reads and keeps: the tokens of the step ([`Input`], left-padded batches
//! with their positions) and the keys and values of the steps before ([`Cache`]).

use crate::{Error, Result};
use candle_core::{Device, Tensor};

/// Keys and values of every layer for the tokens seen so far, and which of them are real
/// tokens (rows of a left-padded batch start with padding). Cloning is cheap (tensors are
/// shared), which is how a prefix cache is forked.
#[derive(Debug, Clone)]
pub struct Cache {
    pub(super) kv: Vec<Option<(Tensor, Tensor)>>,
    pub(super) valid: Vec<Vec<bool>>,
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
