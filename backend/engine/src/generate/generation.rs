//! Text generation for a batch of prompts sharing one persona: the persona prefix is encoded
//! once and its cache repeated over the batch, the prompts' rests run as one left-padded
//! step, then every row decodes one token per step with the KV cache until it meets an eos
//! token, a stop sequence or the token limit. Finished rows ride along (their outputs are
//! ignored) until the whole batch is done.

use super::prefix::PrefixState;
use super::sampler::{Sampler, PAPER_TEMPERATURE, PAPER_TOP_P};
use crate::models::{Input, LoadedModel};
use crate::{Error, Result};
use candle_core::{DType, Tensor};

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    pub max_new_tokens: usize,
    /// 0 = greedy.
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    /// Generation ends when the text contains one of these; the text is cut before it.
    pub stop: Vec<String>,
    /// Text the answer begins with, written by the caller rather than sampled ("I agree that X,
    /// because"): the model continues it inside its own turn, so a chat model keeps to the
    /// stance it is given. Not part of the returned text. Empty: the model starts the answer.
    pub answer_start: String,
}

impl Default for GenerationConfig {
    /// The paper's sampling (temperature 1, top-p 0.5), 64 new tokens, seed 0.
    fn default() -> Self {
        GenerationConfig {
            max_new_tokens: 64,
            temperature: PAPER_TEMPERATURE,
            top_p: PAPER_TOP_P,
            seed: 0,
            stop: Vec::new(),
            answer_start: String::new(),
        }
    }
}

impl GenerationConfig {
    pub fn greedy(max_new_tokens: usize) -> Self {
        GenerationConfig {
            max_new_tokens,
            temperature: 0.0,
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::invalid(format!(
                "temperature {} must be 0 (greedy) or positive",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid(format!(
                "top-p {} must be in (0, 1]",
                self.top_p
            )));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(Error::invalid("stop sequences must not be empty"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A stop sequence appeared (it is not part of the text).
    Stop,
    /// The model produced an end-of-text token.
    Eos,
    /// `max_new_tokens` (or the model's context) ran out.
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    /// Tokens the model produced, the final eos or stop token included.
    pub tokens: usize,
    pub finish: Finish,
}

/// Generates one continuation per prompt (`prompts` are tasks, wrapped with `persona` by the
/// model's prompt format). Row `i` samples from its own seeded stream `i`.
pub fn generate(
    model: &LoadedModel,
    persona: &str,
    prompts: &[String],
    cfg: &GenerationConfig,
) -> Result<Vec<Generation>> {
    let prefix = PrefixState::new(model, persona)?;
    generate_with_prefix(model, &prefix, prompts, cfg)
}

struct Row {
    tokens: Vec<u32>,
    text: String,
    finish: Option<Finish>,
}

/// [`generate`] with a persona prefix encoded earlier.
pub fn generate_with_prefix(
    model: &LoadedModel,
    prefix: &PrefixState,
    prompts: &[String],
    cfg: &GenerationConfig,
) -> Result<Vec<Generation>> {
    cfg.validate()?;
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    let device = model.device();
    let rests = prompts
        .iter()
        .map(|p| prefix.rest_tokens_answering(model, p, &cfg.answer_start))
        .collect::<Result<Vec<_>>>()?;
    if let Some(i) = rests.iter().position(Vec::is_empty) {
        return Err(Error::invalid(format!("prompt {} is empty", i + 1)));
    }
    let context = model.config().max_position_embeddings;
    let longest = prefix.len() + rests.iter().map(Vec::len).max().unwrap_or(0);
    if longest >= context {
        return Err(Error::invalid(format!(
            "the prompt has {longest} tokens; the model's context holds {context}"
        )));
    }
    let max_new = cfg.max_new_tokens.min(context - longest);

    let b = prompts.len();
    let mut samplers: Vec<Sampler> = (0..b)
        .map(|i| Sampler::new(cfg.temperature, cfg.top_p, cfg.seed, i as u64))
        .collect();
    let mut rows: Vec<Row> = (0..b)
        .map(|_| Row {
            tokens: Vec::new(),
            text: String::new(),
            finish: None,
        })
        .collect();
    let mut positions: Vec<usize> = rests.iter().map(|r| prefix.len() + r.len()).collect();
    let mut cache = prefix.batch_cache(model, b)?;
    let input = Input::left_padded(
        &rests,
        &vec![prefix.len(); b],
        model.tokenizer.pad_id(),
        device,
    )?;
    let mut logits = model.llama.forward_last(&input, Some(&mut cache))?;

    if max_new == 0 {
        for row in &mut rows {
            row.finish = Some(Finish::Length);
        }
    }
    for _ in 0..max_new {
        let table = logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let mut next = Vec::with_capacity(b);
        for ((row, sampler), logits) in rows.iter_mut().zip(&mut samplers).zip(&table) {
            if row.finish.is_some() {
                next.push(model.tokenizer.pad_id());
                continue;
            }
            let token = sampler.sample(logits);
            next.push(token);
            row.tokens.push(token);
            if model.is_eos(token) {
                row.finish = Some(Finish::Eos);
                continue;
            }
            row.text = model.tokenizer.decode(&row.tokens, true)?;
            if let Some(cut) = cfg
                .stop
                .iter()
                .filter_map(|s| row.text.find(s.as_str()))
                .min()
            {
                row.text.truncate(cut);
                row.finish = Some(Finish::Stop);
            } else if row.tokens.len() >= max_new {
                row.finish = Some(Finish::Length);
            }
        }
        if rows.iter().all(|r| r.finish.is_some()) {
            break;
        }
        let ids = Tensor::from_vec(next, (b, 1), device)?;
        let step = Input {
            ids,
            positions: positions.iter().map(|&p| vec![p as u32]).collect(),
            valid: None,
        };
        logits = model.llama.decode_step(&step, &mut cache)?;
        for p in &mut positions {
            *p += 1;
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| Generation {
            tokens: r.tokens.len(),
            text: r.text,
            finish: r.finish.unwrap_or(Finish::Length),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testing::tiny_model;

    fn prompts(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn greedy_generation_stops_at_the_token_limit() {
        let mut model = tiny_model(false, 11).unwrap();
        model.eos_ids.clear();
        let out = generate(
            &model,
            "persona",
            &prompts(&["Say something."]),
            &GenerationConfig::greedy(7),
        )
        .unwrap();
        assert_eq!(out[0].tokens, 7);
        assert_eq!(out[0].finish, Finish::Length);
    }

    #[test]
    fn generation_stops_at_a_stop_sequence_and_cuts_it() {
        let mut model = tiny_model(true, 11).unwrap();
        model.eos_ids.clear();
        let free = generate(
            &model,
            "",
            &prompts(&["Tell me."]),
            &GenerationConfig::greedy(24),
        )
        .unwrap()
        .remove(0);
        eprintln!("free text: {:?}", free.text);
        // A stop string taken from the middle of the free-running text.
        // Random weights emit random bytes: take an ASCII pair so partial UTF-8 cannot shift it.
        let chars: Vec<char> = free.text.chars().collect();
        let start = (chars.len() / 3..chars.len().saturating_sub(1))
            .find(|&i| chars[i].is_ascii_graphic() && chars[i + 1].is_ascii_graphic())
            .unwrap_or_else(|| panic!("no ASCII pair in the greedy text {:?}", free.text));
        let stop: String = chars[start..start + 2].iter().collect();
        let cut = free.text.find(&stop).unwrap();
        let cfg = GenerationConfig {
            stop: vec![stop.clone()],
            ..GenerationConfig::greedy(24)
        };
        let stopped = generate(&model, "", &prompts(&["Tell me."]), &cfg)
            .unwrap()
            .remove(0);
        assert_eq!(stopped.finish, Finish::Stop);
        assert_eq!(stopped.text, free.text[..cut]);
        assert!(stopped.tokens < free.tokens);
    }

    #[test]
    fn generation_ends_at_eos() {
        let mut model = tiny_model(false, 11).unwrap();
        // Declare the token greedy decoding picks first an eos token: generation must end there.
        let prefix = PrefixState::new(&model, "").unwrap();
        let rest = prefix.rest_tokens(&model, "Go").unwrap();
        let logits = model
            .llama
            .forward_last(&Input::from_tokens(&rest, 0, model.device()).unwrap(), None)
            .unwrap();
        let first =
            crate::generate::sampler::argmax(&logits.squeeze(0).unwrap().to_vec1::<f32>().unwrap());
        model.eos_ids = vec![first];
        let ended = generate(&model, "", &prompts(&["Go"]), &GenerationConfig::greedy(10))
            .unwrap()
            .remove(0);
        assert_eq!(ended.finish, Finish::Eos);
        assert_eq!(ended.tokens, 1);
        assert_eq!(ended.text, "");
    }

    #[test]
    fn an_answer_start_is_continued_not_returned() {
        for chat in [false, true] {
            let mut model = tiny_model(chat, 13).unwrap();
            model.eos_ids.clear();
            let start = "I agree that cars are useful, because";
            let prefix = PrefixState::new(&model, "Persona.").unwrap();
            let rest = prefix.rest_tokens_answering(&model, "Why?", start).unwrap();
            let plain = prefix.rest_tokens(&model, "Why?").unwrap();
            assert!(rest.len() > plain.len() && rest.starts_with(&plain[..plain.len() - 1]));
            // The first generated token is the argmax after prompt + answer start.
            let mut cache = prefix.cache.clone();
            let input = Input::from_tokens(&rest, prefix.len(), model.device()).unwrap();
            let logits = model.llama.forward_last(&input, Some(&mut cache)).unwrap();
            let expected = crate::generate::sampler::argmax(
                &logits.squeeze(0).unwrap().to_vec1::<f32>().unwrap(),
            );
            let cfg = GenerationConfig {
                answer_start: start.to_string(),
                ..GenerationConfig::greedy(1)
            };
            let out = generate(&model, "Persona.", &prompts(&["Why?"]), &cfg)
                .unwrap()
                .remove(0);
            // Only the generated token comes back, not the answer start.
            assert_eq!(out.text, model.tokenizer.decode(&[expected], true).unwrap());
        }
    }

    #[test]
    fn a_batch_generates_what_each_prompt_generates_alone() {
        let mut model = tiny_model(true, 5).unwrap();
        model.eos_ids.clear();
        let batch = prompts(&[
            "Short.",
            "A much longer prompt with 12 words and more, to force padding.",
            "Mid length one.",
        ]);
        for cfg in [
            GenerationConfig::greedy(8),
            GenerationConfig {
                max_new_tokens: 8,
                temperature: 1.0,
                top_p: 0.9,
                seed: 3,
                ..Default::default()
            },
        ] {
            let together = generate(&model, "A persona.", &batch, &cfg).unwrap();
            for (i, prompt) in batch.iter().enumerate() {
                let alone = generate(&model, "A persona.", std::slice::from_ref(prompt), &cfg)
                    .unwrap()
                    .remove(0);
                if cfg.temperature == 0.0 {
                    assert_eq!(together[i], alone, "row {i}");
                } else if i == 0 {
                    // Row 0 samples from stream 0 in both runs.
                    assert_eq!(together[0], alone);
                }
            }
        }
    }

    #[test]
    fn seeded_sampling_is_reproducible() {
        let model = tiny_model(false, 5).unwrap();
        let cfg = GenerationConfig {
            max_new_tokens: 12,
            temperature: 1.0,
            top_p: 0.95,
            seed: 42,
            ..Default::default()
        };
        let batch = prompts(&["Hello", "Hello"]);
        let a = generate(&model, "p", &batch, &cfg).unwrap();
        let b = generate(&model, "p", &batch, &cfg).unwrap();
        assert_eq!(a, b);
        // Two rows with the same prompt draw from different streams.
        assert_ne!(a[0].text, a[1].text);
        let other = generate(
            &model,
            "p",
            &batch,
            &GenerationConfig {
                seed: 43,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let model = tiny_model(false, 5).unwrap();
        let cfg = GenerationConfig {
            top_p: 0.0,
            ..Default::default()
        };
        assert!(generate(&model, "", &prompts(&["x"]), &cfg)
            .unwrap_err()
            .to_string()
            .contains("top-p"));
        assert!(
            generate(&model, "", &prompts(&[""]), &GenerationConfig::greedy(2))
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }
}
