//! Choosing the next token from logits: greedy at temperature 0, otherwise temperature-scaled
//! softmax restricted to the top-p nucleus (the paper samples with temperature 1, top-p 0.5).
//!
//! Each row of a batch has its own ChaCha stream derived from one seed, so a row's sample does
//! not depend on which other prompts share its batch, and a seed reproduces a run exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The paper's sampling settings (Section 4: temperature 1, top-p 0.5).
pub const PAPER_TEMPERATURE: f64 = 1.0;
pub const PAPER_TOP_P: f64 = 0.5;

pub struct Sampler {
    temperature: f64,
    top_p: f64,
    rng: ChaCha20Rng,
}

impl Sampler {
    /// `stream` separates rows (or repeated samples) drawn under one seed.
    pub fn new(temperature: f64, top_p: f64, seed: u64, stream: u64) -> Sampler {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Sampler {
            temperature,
            top_p,
            rng,
        }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// The next token for one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.is_greedy() {
            return argmax(logits);
        }
        let nucleus = nucleus(&softmax(logits, self.temperature), self.top_p);
        let total: f64 = nucleus.iter().map(|(_, p)| p).sum();
        let mut u = self.rng.random::<f64>() * total;
        for &(id, p) in &nucleus {
            if u < p {
                return id;
            }
            u -= p;
        }
        // Rounding can leave u a hair above the last mass; the last token is the right answer.
        nucleus.last().map_or(0, |&(id, _)| id)
    }
}

pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Probabilities of `logits / temperature`, computed in f64 with the maximum subtracted.
pub fn softmax(logits: &[f32], temperature: f64) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = logits
        .iter()
        .map(|&l| ((l as f64 - max) / temperature).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// The smallest set of most probable tokens whose mass reaches `top_p` (at least one token),
/// as (id, probability) in descending probability; as Hugging Face's `TopPLogitsWarper`.
pub fn nucleus(probs: &[f64], top_p: f64) -> Vec<(u32, f64)> {
    // Tokens below a tiny fraction of the top-1 mass can never be needed to reach top_p < 1
    // before more likely ones; dropping them first keeps the sort small for 49k-token vocabularies.
    let mut sorted: Vec<(u32, f64)> = if top_p < 1.0 {
        let cutoff = probs.iter().copied().fold(0.0, f64::max) * 1e-9;
        probs
            .iter()
            .enumerate()
            .filter(|(_, &p)| p >= cutoff)
            .map(|(i, &p)| (i as u32, p))
            .collect()
    } else {
        probs
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as u32, p))
            .collect()
    };
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for (id, p) in sorted {
        if !kept.is_empty() && mass >= top_p {
            break;
        }
        kept.push((id, p));
        mass += p;
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_the_mass() {
        let probs = [0.15, 0.5, 0.05, 0.3];
        let ids = |p: f64| {
            nucleus(&probs, p)
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(0.5), [1]);
        assert_eq!(ids(0.6), [1, 3]);
        assert_eq!(ids(0.79), [1, 3]);
        assert_eq!(ids(0.81), [1, 3, 0]);
        assert_eq!(ids(1.0), [1, 3, 0, 2]);
        assert_eq!(ids(0.0), [1]);
    }

    #[test]
    fn sampling_follows_the_renormalised_nucleus() {
        // logits of probabilities 0.5, 0.3, 0.15, 0.05; top-p 0.7 keeps the first two,
        // which should then come up 5:3.
        let logits: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let mut sampler = Sampler::new(1.0, 0.7, 7, 0);
        let mut counts = [0usize; 4];
        for _ in 0..8000 {
            counts[sampler.sample(&logits) as usize] += 1;
        }
        assert_eq!(counts[2] + counts[3], 0);
        let share = counts[0] as f64 / 8000.0;
        assert!((share - 0.625).abs() < 0.02, "share of token 0: {share}");
    }

    #[test]
    fn seeded_sampling_is_reproducible_and_streams_differ() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let draw = |seed, stream| {
            let mut s = Sampler::new(1.0, 0.9, seed, stream);
            (0..32).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert_ne!(draw(1, 0), draw(2, 0));
    }

    #[test]
    fn temperature_zero_is_greedy() {
        let mut s = Sampler::new(0.0, 0.5, 0, 0);
        assert_eq!(s.sample(&[0.1, 2.0, -1.0, 1.9]), 1);
    }

    #[test]
    fn low_temperature_sharpens() {
        let p = softmax(&[1.0, 0.0], 0.5);
        assert!((p[0] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-12);
    }
}
