//! Timing of LoRA training steps on synthetic batches, for `valuelab bench` and the comparison
//! with PyTorch + PEFT (the figure: batch 4 × 128 tokens, r 8 on q_proj and v_proj).

use crate::lora::LoraConfig;
use crate::models::llama::Llama;
use crate::train::dataset::Sample;
use crate::train::optim::ParamsAdamW;
use crate::train::trainer::LoraTrainer;
use crate::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Seconds per optimizer step, after one untimed warm-up step.
#[derive(Debug, Clone)]
pub struct StepTiming {
    /// Wall-clock seconds of each step.
    pub steps: Vec<f64>,
    /// CPU seconds (user + system, all threads) of each step, where the platform tells: on a
    /// busy machine this stays near the idle figure while wall time grows.
    pub cpu_steps: Option<Vec<f64>>,
    pub tokens_per_step: usize,
    pub answer_tokens_per_step: usize,
}

impl StepTiming {
    pub fn mean_s(&self) -> f64 {
        self.steps.iter().sum::<f64>() / self.steps.len().max(1) as f64
    }

    pub fn min_s(&self) -> f64 {
        self.steps.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Attaches fresh adapters to `model` and times `steps` AdamW steps on `batch` random sequences
/// of `seq_len` tokens whose last `answer_len` tokens are scored (`answer_len = seq_len - 1`
/// scores every position, as a plain causal-LM loss does).
pub fn time_lora_steps(
    model: &mut Llama,
    lora: &LoraConfig,
    batch: usize,
    seq_len: usize,
    answer_len: usize,
    steps: usize,
) -> Result<StepTiming> {
    let vocab = model.config().vocab_size as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let answer_len = answer_len.clamp(1, seq_len.saturating_sub(1).max(1));
    let samples: Vec<Sample> = (0..batch)
        .map(|_| Sample {
            ids: (0..seq_len).map(|_| rng.random_range(0..vocab)).collect(),
            answer_start: seq_len - answer_len,
        })
        .collect();
    let refs: Vec<&Sample> = samples.iter().collect();
    let params = ParamsAdamW {
        lr: 2e-5,
        ..ParamsAdamW::default()
    };
    let mut trainer = LoraTrainer::new(model, lora, 0, params)?;
    trainer.step(model, std::slice::from_ref(&refs))?;
    let mut times = Vec::with_capacity(steps);
    let mut cpu = Some(Vec::with_capacity(steps));
    for _ in 0..steps {
        let (t0, c0) = (Instant::now(), process_cpu_seconds());
        trainer.step(model, std::slice::from_ref(&refs))?;
        times.push(t0.elapsed().as_secs_f64());
        cpu = match (cpu, c0, process_cpu_seconds()) {
            (Some(mut v), Some(c0), Some(c1)) => {
                v.push(c1 - c0);
                Some(v)
            }
            _ => None,
        };
    }
    Ok(StepTiming {
        steps: times,
        cpu_steps: cpu,
        tokens_per_step: batch * seq_len,
        answer_tokens_per_step: batch * answer_len,
    })
}

/// CPU time of this process so far (Linux `/proc/self/stat` utime + stime, in the kernel's
/// usual 100 ticks a second), in seconds.
pub fn process_cpu_seconds() -> Option<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::tiny_model;

    #[test]
    fn timing_runs_the_requested_steps_on_the_requested_shape() {
        let mut model = tiny_model(false, 1).unwrap();
        let t = time_lora_steps(&mut model.llama, &LoraConfig::default(), 2, 12, 4, 2).unwrap();
        assert_eq!(t.steps.len(), 2);
        assert_eq!((t.tokens_per_step, t.answer_tokens_per_step), (24, 8));
        assert!(t.min_s() > 0.0 && t.mean_s() >= t.min_s());
        assert!(peak_memory_mib().is_some_and(|m| m > 0.0));
        assert!(t
            .cpu_steps
            .is_some_and(|c| c.len() == 2 && c.iter().all(|s| *s >= 0.0)));
    }

    /// The figure for docs/performance.md: `VALUELAB_MODELS_DIR=... RAYON_NUM_THREADS=2 cargo test
    /// --release -p valuelab-engine --lib measure_lora_step_on_smollm2 -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement on the real model, run by hand"]
    fn measure_lora_step_on_smollm2() {
        // One configuration per process so that the peak memory belongs to it.
        let env = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(default)
        };
        let (steps, answer_len) = (env("STEPS", 5), env("ANSWER_LEN", 16));
        let mut model = crate::models::load_model("smollm2", &candle_core::Device::Cpu).unwrap();
        let t = time_lora_steps(
            &mut model.llama,
            &LoraConfig::default(),
            4,
            128,
            answer_len,
            steps,
        )
        .unwrap();
        println!(
            "batch 4 x 128, r 8 q/v, {} answer tokens: mean {:.3} s/step, min {:.3} s, steps {:?}, cpu s/step {:?}, peak {:.0} MiB",
            t.answer_tokens_per_step,
            t.mean_s(),
            t.min_s(),
            t.steps.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>(),
            t.cpu_steps.unwrap_or_default().iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>(),
            peak_memory_mib().unwrap_or(f64::NAN)
        );
    }
}
