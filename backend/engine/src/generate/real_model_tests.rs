//! The one test on the real SmolLM2-135M-Instruct GGUF. It finds the model through
//! `VALUELAB_MODELS_DIR` (CI runs scripts/install-model.sh first) and fails, never skips, when
//! the model is missing. It needs optimised dependencies (the workspace's dev profile has them).

use super::{generate, score_items, ChoiceItem, Finish, GenerationConfig, Normalisation};
use crate::models::{load_model, Input, LoadedModel};
use candle_core::quantized::gguf_file;
use candle_core::Device;
use candle_transformers::models::quantized_llama::ModelWeights;

fn smollm2() -> LoadedModel {
    match load_model("smollm2", &Device::Cpu) {
        Ok(model) => model,
        Err(e) => panic!(
            "the SmolLM2 test model is required: {e}\n(install it with scripts/install-model.sh and set \
             VALUELAB_MODELS_DIR to its models folder)"
        ),
    }
}

#[test]
fn smollm2_loads_tokenizes_generates_and_scores() {
    let mut model = smollm2();
    let cfg = model.config();
    assert_eq!(
        (
            cfg.num_layers,
            cfg.hidden_size,
            cfg.num_heads,
            cfg.num_kv_heads
        ),
        (30, 576, 9, 3)
    );
    assert!(cfg.tie_word_embeddings);
    let chat = model
        .chat
        .as_ref()
        .expect("SmolLM2 ships a ChatML template");
    assert_eq!(
        chat.default_system.as_deref(),
        Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    );

    // Tokenizer (ENGINE-NOTES trap 8): round trips, " 1" is [Ġ, 1], ChatML markers are single tokens.
    let tok = &model.tokenizer;
    for text in [
        "Hello, world! naïve café 日本語 ✓",
        "digits 1234567 and 3.14\n\nnew\tlines",
        "  two leading spaces",
    ] {
        assert_eq!(
            tok.decode(&tok.encode(text, true).unwrap(), false).unwrap(),
            text
        );
    }
    let one: Vec<String> = tok
        .encode(" 1", false)
        .unwrap()
        .iter()
        .map(|&id| tok.token(id).unwrap())
        .collect();
    assert_eq!(one, ["Ġ", "1"]);
    let marked = tok.encode("<|im_start|>user\nhi<|im_end|>", false).unwrap();
    assert_eq!((marked[0], *marked.last().unwrap()), (1, 2));

    // The dequantised f32 model agrees with candle's quantized llama.cpp-layout model (which
    // uses interleaved RoPE on the permuted weights): this checks names and the q/k un-permute.
    let prompt = model
        .prompt_parts("", "What is the capital of France?")
        .full();
    let tokens = tok.encode(&prompt, true).unwrap();
    let ours = model
        .llama
        .forward_last(&Input::from_tokens(&tokens, 0, &Device::Cpu).unwrap(), None)
        .unwrap();
    let ours = ours.squeeze(0).unwrap().to_vec1::<f32>().unwrap();
    let path = model.source.as_ref().unwrap().path().to_path_buf();
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut quantized = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    let input = candle_core::Tensor::new(tokens.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let theirs = quantized
        .forward(&input, 0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // The quantized model rounds activations to 8 bits, so logits differ by up to ~1.4 and
    // near-ties can swap (measured: "The" 25.3 vs "L" 25.2 here, the other way round there); a
    // wrong permutation or name mapping scrambles attention and leaves the two uncorrelated.
    let correlation = pearson(&ours, &theirs);
    assert!(
        correlation > 0.99,
        "f32 and quantized logits correlate only {correlation}"
    );
    let top5 = |v: &[f32]| {
        let mut ids: Vec<usize> = (0..v.len()).collect();
        ids.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
        ids.truncate(5);
        ids
    };
    assert!(top5(&theirs).contains(&top5(&ours)[0]) && top5(&ours).contains(&top5(&theirs)[0]));

    // Greedy generation writes real words (its decoding steps on the Q8_0 copies).
    let out = generate(
        &model,
        "",
        &["What is the capital of France?".to_string()],
        &GenerationConfig::greedy(12),
    )
    .unwrap()
    .remove(0);
    assert!(out.text.contains("Paris"), "greedy answer: {:?}", out.text);
    assert!(matches!(out.finish, Finish::Eos | Finish::Length));

    // Option scoring prefers the right answer.
    let items = [ChoiceItem {
        prompt: "What is the capital of France?".into(),
        options: vec!["Paris".into(), "Banana".into()],
        subject: None,
    }];
    let scores = score_items(&model, "", &items, Normalisation::Sum)
        .unwrap()
        .remove(0);
    assert!(scores.probs[0] > 0.9, "P(Paris) = {}", scores.probs[0]);

    // The Q8_0 steps follow the f32 ones: teacher-forced along the f32 greedy answer, each
    // step's f32 choice is among the Q8_0 top 5 and the logits correlate above 0.99.
    model.llama.set_quantized_inference(false);
    let (answer, exact) = decoding_logits(&model, &tokens, None);
    model.llama.set_quantized_inference(true);
    let (_, fast) = decoding_logits(&model, &tokens, Some(&answer));
    assert_eq!(
        exact[0], fast[0],
        "the prompt's own logits are f32 either way"
    );
    for (step, (a, b)) in exact.iter().zip(&fast).enumerate().skip(1) {
        let r = pearson(a, b);
        assert!(r > 0.99, "step {step}: f32 and Q8_0 logits correlate {r}");
        assert!(top5(b).contains(&(answer[step] as usize)), "step {step}");
        assert_ne!(a, b, "step {step} should run on the Q8_0 copies");
    }
    // Scoring never uses the copies, even once decoding has made them.
    let after = score_items(&model, "", &items, Normalisation::Sum)
        .unwrap()
        .remove(0);
    assert_eq!(after.probs, scores.probs);
}

/// The prompt's last logits and seven decoding steps after it: the tokens (greedy, or
/// `forced`) and each step's logits.
fn decoding_logits(
    model: &LoadedModel,
    prompt: &[u32],
    forced: Option<&[u32]>,
) -> (Vec<u32>, Vec<Vec<f32>>) {
    let mut cache = model.llama.new_cache();
    let mut logits = model
        .llama
        .forward_last(
            &Input::from_tokens(prompt, 0, &Device::Cpu).unwrap(),
            Some(&mut cache),
        )
        .unwrap();
    let (mut tokens, mut steps) = (Vec::new(), Vec::new());
    for step in 0..8 {
        let row = logits.squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        let next = match forced {
            Some(forced) => forced[step],
            None => logits
                .argmax(candle_core::D::Minus1)
                .unwrap()
                .to_vec1::<u32>()
                .unwrap()[0],
        };
        steps.push(row);
        tokens.push(next);
        let input = Input::from_tokens(&[next], prompt.len() + step, &Device::Cpu).unwrap();
        logits = model.llama.decode_step(&input, &mut cache).unwrap();
    }
    (tokens, steps)
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&x| x as f64).sum::<f64>() / n,
        b.iter().map(|&x| x as f64).sum::<f64>() / n,
    );
    let cov: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - ma) * (y as f64 - mb))
        .sum();
    let va: f64 = a.iter().map(|&x| (x as f64 - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|&y| (y as f64 - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}
