//! What a forward step reads and keeps: the tokens of the step ([`Input`], left-padded batches
//! with their positions) and the keys and values of the steps before ([`Cache`]).

use crate::{Error, Result};
use candle_core::{Device, Tensor};

/// One layer's keys and values, each (rows, kv heads, positions, head dim). `shared` holds
/// one-row prefixes, in order, that every row of the batch attends to (a persona encoded once,
/// then the tokens a batch's items start with): attention reads them in place instead of
/// holding one copy per row. `own` holds each row's tokens after them.
#[derive(Debug, Clone, Default)]
pub(super) struct LayerKv {
    pub(super) shared: Vec<(Tensor, Tensor)>,
    pub(super) own: Option<(Tensor, Tensor)>,
}

/// Keys and values of every layer for the tokens seen so far, and which of them are real
/// tokens (rows of a left-padded batch start with padding; `valid` covers the shared prefix
/// too, repeated per row). Cloning is cheap (tensors are shared), which is how a prefix cache
/// is forked.
#[derive(Debug, Clone)]
pub struct Cache {
    pub(super) kv: Vec<LayerKv>,
    pub(super) valid: Vec<Vec<bool>>,
}

impl Cache {
    pub fn new(num_layers: usize) -> Cache {
        Cache {
            kv: vec![LayerKv::default(); num_layers],
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

    /// Whether every row sees every position of the shared prefixes: they hold real tokens
    /// (a one-row cache of them is what [`Cache::share_batch`] shares), so attention need not
    /// add their part of the mask, which is then zero.
    pub(super) fn shared_prefixes_visible(&self) -> Result<bool> {
        let shared_len = match self.kv.first() {
            Some(layer) => layer
                .shared
                .iter()
                .map(|(k, _)| k.dim(2))
                .sum::<candle_core::Result<usize>>()?,
            None => 0,
        };
        Ok(self
            .valid
            .iter()
            .all(|row| row[..shared_len].iter().all(|&v| v)))
    }

    /// Number of model layers the cache holds keys and values for.
    pub fn num_layers(&self) -> usize {
        self.kv.len()
    }

    pub fn batch_size(&self) -> Option<usize> {
        (!self.valid.is_empty()).then_some(self.valid.len())
    }

    /// A one-row cache as the shared prefix of `n` rows, e.g. a persona for a batch of items.
    /// Nothing is copied: every row's attention reads the same prefix keys and values.
    pub fn share_batch(&self, n: usize) -> Result<Cache> {
        if self.valid.len() != 1 {
            return Err(Error::invalid(format!(
                "only a one-row cache can be shared by a batch (this one has {} rows)",
                self.valid.len()
            )));
        }
        let kv = self
            .kv
            .iter()
            .map(|layer| LayerKv {
                shared: layer.shared.iter().chain(&layer.own).cloned().collect(),
                own: None,
            })
            .collect();
        Ok(Cache {
            kv,
            valid: vec![self.valid[0].clone(); n],
        })
    }
}

/// Building a prompt prefix block by block ([`crate::generate::PrefixState`]): each block's
/// tokens run over the blocks before it, read as shared prefixes, and only the block's own keys
/// and values are kept, so a later prompt that starts with the same blocks reuses them.
impl Cache {
    /// A one-row cache whose shared prefixes are `blocks` in order (one-row caches from
    /// [`Cache::own_part`]); an empty list gives an empty cache of `num_layers` layers.
    pub fn over_blocks(blocks: &[Cache], num_layers: usize) -> Result<Cache> {
        let mut cache = Cache::new(num_layers);
        for block in blocks {
            if block.valid.len() != 1 || block.kv.len() != num_layers {
                return Err(Error::invalid(format!(
                    "a prefix block must be a one-row cache of {num_layers} layers"
                )));
            }
            for (layer, block_layer) in cache.kv.iter_mut().zip(&block.kv) {
                let own = block_layer.own.clone().ok_or_else(|| {
                    Error::invalid("a prefix block holds no keys and values of its own")
                })?;
                layer.shared.push(own);
            }
            match cache.valid.first_mut() {
                Some(valid) => valid.extend_from_slice(&block.valid[0]),
                None => cache.valid.push(block.valid[0].clone()),
            }
        }
        Ok(cache)
    }

    /// Only the keys and values of this cache's own steps, without its shared prefixes.
    pub fn own_part(&self) -> Result<Cache> {
        let own_len = self
            .kv
            .first()
            .and_then(|layer| layer.own.as_ref())
            .map_or(Ok(0), |(k, _)| k.dim(2))?;
        let kv = self
            .kv
            .iter()
            .map(|layer| LayerKv {
                shared: Vec::new(),
                own: layer.own.clone(),
            })
            .collect();
        let valid = self
            .valid
            .iter()
            .map(|row| row[row.len() - own_len..].to_vec())
            .collect();
        Ok(Cache { kv, valid })
    }

    /// One-row `blocks` joined along time into one cache whose keys and values are all its
    /// own, as if the whole prefix had run in one step.
    pub fn join(blocks: &[Cache], num_layers: usize) -> Result<Cache> {
        let chained = Cache::over_blocks(blocks, num_layers)?;
        let kv = chained
            .kv
            .iter()
            .map(|layer| -> Result<LayerKv> {
                let own = if layer.shared.is_empty() {
                    None
                } else {
                    let keys: Vec<&Tensor> = layer.shared.iter().map(|(k, _)| k).collect();
                    let values: Vec<&Tensor> = layer.shared.iter().map(|(_, v)| v).collect();
                    Some((Tensor::cat(&keys, 2)?, Tensor::cat(&values, 2)?))
                };
                Ok(LayerKv {
                    shared: Vec::new(),
                    own,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cache {
            kv,
            valid: chained.valid,
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
