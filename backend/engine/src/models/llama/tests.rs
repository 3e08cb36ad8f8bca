//! The decoder against itself: shapes, caches, padding, LoRA, offsets and the training path.

use super::*;
use crate::models::testing::{max_abs, max_abs_diff};
use candle_core::D;

fn tiny() -> Llama {
    random_model(&Config::tiny(50), 42, &Device::Cpu).unwrap()
}

#[test]
fn forward_shapes_follow_the_config() {
    let model = tiny();
    let input = Input::from_tokens(&[1, 2, 3, 4, 5], 0, &Device::Cpu).unwrap();
    let hidden = model.forward_hidden(&input, None, Mode::Inference).unwrap();
    assert_eq!(hidden.dims(), &[1, 5, 32]);
    assert_eq!(model.logits(&hidden).unwrap().dims(), &[1, 5, 50]);
    assert_eq!(model.forward_last(&input, None).unwrap().dims(), &[1, 50]);
}

#[test]
fn kv_cache_decoding_equals_a_full_forward_pass() {
    let model = tiny();
    let tokens = [3u32, 7, 11, 13, 17, 19];
    let full = model
        .forward_hidden(
            &Input::from_tokens(&tokens, 0, &Device::Cpu).unwrap(),
            None,
            Mode::Inference,
        )
        .unwrap();
    let mut cache = model.new_cache();
    let first = model
        .forward_hidden(
            &Input::from_tokens(&tokens[..2], 0, &Device::Cpu).unwrap(),
            Some(&mut cache),
            Mode::Inference,
        )
        .unwrap();
    assert!(max_abs_diff(&first, &full.narrow(1, 0, 2).unwrap()) < 1e-4);
    for (i, &tok) in tokens.iter().enumerate().skip(2) {
        let step = model
            .forward_hidden(
                &Input::from_tokens(&[tok], i, &Device::Cpu).unwrap(),
                Some(&mut cache),
                Mode::Inference,
            )
            .unwrap();
        assert!(
            max_abs_diff(&step, &full.narrow(1, i, 1).unwrap()) < 1e-4,
            "position {i}"
        );
    }
    assert_eq!(cache.len(), tokens.len());
}

#[test]
fn training_ops_match_inference_ops() {
    let model = tiny();
    let input = Input::from_tokens(&[5, 6, 7, 8], 0, &Device::Cpu).unwrap();
    let a = model.forward_hidden(&input, None, Mode::Inference).unwrap();
    let b = model.forward_hidden(&input, None, Mode::Training).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-4);
}

#[test]
fn left_padded_rows_equal_unpadded_single_rows() {
    let model = tiny();
    let seqs = vec![vec![4u32, 9, 2], vec![8u32, 1, 6, 3, 12]];
    let input = Input::left_padded(&seqs, &[0, 0], 0, &Device::Cpu).unwrap();
    let batch = model.forward_last(&input, None).unwrap();
    for (row, seq) in seqs.iter().enumerate() {
        let single = model
            .forward_last(&Input::from_tokens(seq, 0, &Device::Cpu).unwrap(), None)
            .unwrap();
        assert!(
            max_abs_diff(&batch.narrow(0, row, 1).unwrap(), &single) < 1e-4,
            "row {row}"
        );
    }
}

#[test]
fn shared_prefix_cache_serves_a_padded_batch() {
    let model = tiny();
    let prefix = [1u32, 2, 3];
    let mut cache = model.new_cache();
    model
        .forward_hidden(
            &Input::from_tokens(&prefix, 0, &Device::Cpu).unwrap(),
            Some(&mut cache),
            Mode::Inference,
        )
        .unwrap();
    let suffixes = vec![vec![10u32, 11], vec![20u32, 21, 22, 23]];
    let mut batch_cache = cache.share_batch(2).unwrap();
    let input = Input::left_padded(&suffixes, &[3, 3], 0, &Device::Cpu).unwrap();
    let batch = model.forward_last(&input, Some(&mut batch_cache)).unwrap();
    for (row, suffix) in suffixes.iter().enumerate() {
        let full: Vec<u32> = prefix.iter().chain(suffix).copied().collect();
        let single = model
            .forward_last(&Input::from_tokens(&full, 0, &Device::Cpu).unwrap(), None)
            .unwrap();
        assert!(
            max_abs_diff(&batch.narrow(0, row, 1).unwrap(), &single) < 1e-4,
            "row {row}"
        );
    }
}

/// Attention written the plain way, one head and one row at a time, with the prefix's keys and
/// values copied in front of each row's own: what [`block::attention`] must equal.
fn attention_per_head(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    prefix: Option<&(Tensor, Tensor)>,
    mask: &Tensor,
) -> Tensor {
    let (b, nh, t, hd) = q.dims4().unwrap();
    let group = nh / k.dim(1).unwrap();
    let rows: Vec<Tensor> = (0..b)
        .map(|row| {
            let heads: Vec<Tensor> = (0..nh)
                .map(|head| {
                    let kv_head = head / group;
                    let own = |x: &Tensor| x.get(row).unwrap().get(kv_head).unwrap();
                    let (keys, values) = match prefix {
                        Some((pk, pv)) => (
                            Tensor::cat(&[&pk.get(0).unwrap().get(kv_head).unwrap(), &own(k)], 0)
                                .unwrap(),
                            Tensor::cat(&[&pv.get(0).unwrap().get(kv_head).unwrap(), &own(v)], 0)
                                .unwrap(),
                        ),
                        None => (own(k), own(v)),
                    };
                    let scores = (q
                        .get(row)
                        .unwrap()
                        .get(head)
                        .unwrap()
                        .matmul(&keys.t().unwrap())
                        .unwrap()
                        * (1.0 / (hd as f64).sqrt()))
                    .unwrap();
                    let scores = (scores
                        + mask
                            .get(row.min(mask.dim(0).unwrap() - 1))
                            .unwrap()
                            .get(0)
                            .unwrap())
                    .unwrap();
                    candle_nn::ops::softmax_last_dim(&scores)
                        .unwrap()
                        .matmul(&values)
                        .unwrap()
                })
                .collect();
            Tensor::cat(&heads, 1).unwrap()
        })
        .collect();
    let out = Tensor::stack(&rows, 0).unwrap();
    assert_eq!(out.dims(), &[b, t, nh * hd]);
    out
}

#[test]
fn grouped_attention_over_a_shared_prefix_equals_attention_per_head() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut random = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    };
    let (b, nh, nkv, t, own, hd, prefix) = (3, 6, 2, 2, 5, 4, 7);
    let q = random(&[b, nh, t, hd]);
    let (k, v) = (random(&[b, nkv, own, hd]), random(&[b, nkv, own, hd]));
    let shared = (random(&[1, nkv, prefix, hd]), random(&[1, nkv, prefix, hd]));
    let cfg = Config::tiny(50);
    let rotary = Rotary::new(&cfg, &vec![vec![0; t]; b], &Device::Cpu).unwrap();
    for with_prefix in [false, true] {
        let total = own + if with_prefix { prefix } else { 0 };
        // Row 1 cannot see its first key (padding); every query sees itself.
        let mask: Vec<f32> = (0..b * t * total)
            .map(|i| {
                let (row, j) = (i / (t * total), i % total);
                if row == 1 && j == 0 {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (b, 1, t, total), &Device::Cpu).unwrap();
        let ctx = StepContext {
            rotary: &rotary,
            mask: Some(&mask),
            mode: Mode::Inference,
            quantized: false,
            // The mask hides a prefix position of row 1.
            shared_visible: false,
        };
        // The prefix in two shared parts, as a persona and then a batch's common tokens.
        let parts: Vec<(Tensor, Tensor)> = if with_prefix {
            [(0, 3), (3, prefix - 3)]
                .iter()
                .map(|&(at, len)| {
                    (
                        shared.0.narrow(2, at, len).unwrap(),
                        shared.1.narrow(2, at, len).unwrap(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let fast = block::attention(&q, &k, &v, &parts, &ctx).unwrap();
        let plain = attention_per_head(&q, &k, &v, with_prefix.then_some(&shared), &mask);
        assert!(max_abs_diff(&fast, &plain) < 1e-5, "prefix {with_prefix}");
    }
}

#[test]
fn decoding_after_a_shared_prefix_equals_a_full_forward_per_row() {
    let model = tiny();
    let prefix = [1u32, 2, 3, 4];
    let mut cache = model.new_cache();
    let hidden = |input: &Input, cache: Option<&mut Cache>| {
        model.forward_hidden(input, cache, Mode::Inference).unwrap()
    };
    hidden(
        &Input::from_tokens(&prefix[..2], 0, &Device::Cpu).unwrap(),
        Some(&mut cache),
    );
    // A one-row fork that adds its own tokens, shared again: two shared parts.
    let mut one = cache.share_batch(1).unwrap();
    hidden(
        &Input::from_tokens(&prefix[2..], 2, &Device::Cpu).unwrap(),
        Some(&mut one),
    );
    let mut batch = one.share_batch(2).unwrap();
    let mut rows = vec![vec![10u32], vec![20u32, 21, 22]];
    let input = Input::left_padded(&rows, &[4, 4], 0, &Device::Cpu).unwrap();
    hidden(&input, Some(&mut batch));
    for step in 0..3u32 {
        let next = [30 + step, 40 + step];
        let positions: Vec<usize> = rows.iter().map(|r| prefix.len() + r.len()).collect();
        let input = Input {
            ids: Tensor::new(&[[next[0]], [next[1]]], &Device::Cpu).unwrap(),
            positions: positions.iter().map(|&p| vec![p as u32]).collect(),
            valid: None,
        };
        let out = hidden(&input, Some(&mut batch));
        for (row, tokens) in rows.iter_mut().enumerate() {
            tokens.push(next[row]);
            let full: Vec<u32> = prefix.iter().chain(tokens.iter()).copied().collect();
            let whole = hidden(&Input::from_tokens(&full, 0, &Device::Cpu).unwrap(), None);
            let last = whole.narrow(1, full.len() - 1, 1).unwrap();
            assert!(
                max_abs_diff(&out.narrow(0, row, 1).unwrap(), &last) < 1e-4,
                "step {step}, row {row}"
            );
        }
    }
    assert_eq!(batch.len(), prefix.len() + 3 + 3);
}

#[test]
fn lora_at_init_leaves_logits_unchanged() {
    let mut model = tiny();
    let input = Input::from_tokens(&[1, 4, 9, 16], 0, &Device::Cpu).unwrap();
    let before = model.forward_last(&input, None).unwrap();
    let varmap = VarMap::new();
    model
        .attach_lora(&LoraConfig::default(), &varmap, 1)
        .unwrap();
    // 2 layers × (q_proj, v_proj) × (A, B)
    assert_eq!(varmap.all_vars().len(), 8);
    assert!(max_abs_diff(&before, &model.forward_last(&input, None).unwrap()) < 1e-6);
}

#[test]
fn every_lora_variable_receives_a_gradient() {
    let mut model = tiny();
    let varmap = VarMap::new();
    let cfg = LoraConfig {
        lora_dropout: 0.1,
        ..LoraConfig::default()
    };
    model.attach_lora(&cfg, &varmap, 1).unwrap();
    // B starts at zero, which zeroes A's gradient; give B values so both factors must learn.
    for (name, var) in varmap.data().lock().unwrap().iter() {
        if name.contains("lora_B") {
            var.set(&(var.as_tensor().ones_like().unwrap() * 0.05).unwrap())
                .unwrap();
        }
    }
    let input = Input::from_tokens(&[1, 4, 9, 16], 0, &Device::Cpu).unwrap();
    let hidden = model.forward_hidden(&input, None, Mode::Training).unwrap();
    let loss = model
        .logits(&hidden)
        .unwrap()
        .sqr()
        .unwrap()
        .mean_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in varmap.data().lock().unwrap().iter() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        assert!(
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 0.0,
            "zero gradient for {name}"
        );
    }
    assert!(grads.get(&model.embed_tokens).is_none());
}

#[test]
fn merged_model_equals_unmerged_and_adapters_round_trip() {
    let mut model = tiny();
    let varmap = VarMap::new();
    let cfg = LoraConfig {
        target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        ..LoraConfig::default()
    };
    model.attach_lora(&cfg, &varmap, 3).unwrap();
    // Give B non-zero values so the adapter matters.
    for (name, var) in varmap.data().lock().unwrap().iter() {
        if name.contains("lora_B") {
            var.set(&(var.as_tensor().ones_like().unwrap() * 0.05).unwrap())
                .unwrap();
        }
    }
    let input = Input::from_tokens(&[2, 3, 5, 7, 11], 0, &Device::Cpu).unwrap();
    let adapted = model.forward_last(&input, None).unwrap();
    let tensors: HashMap<String, Tensor> = model.lora_tensors().into_iter().collect();
    assert_eq!(tensors.len(), 12);
    assert!(tensors.contains_key("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));

    let mut reloaded = tiny();
    reloaded.load_lora(&cfg, &tensors).unwrap();
    assert!(max_abs_diff(&adapted, &reloaded.forward_last(&input, None).unwrap()) < 1e-5);
    reloaded.merge_lora().unwrap();
    assert!(reloaded.lora_tensors().is_empty());
    assert!(max_abs_diff(&adapted, &reloaded.forward_last(&input, None).unwrap()) < 1e-4);
    let plain = tiny().forward_last(&input, None).unwrap();
    assert!(
        max_abs_diff(&adapted, &plain) > 1e-3,
        "the adapter should change the logits"
    );
}

#[test]
fn adapters_for_other_modules_are_rejected() {
    let mut model = tiny();
    let mut tensors = HashMap::new();
    tensors.insert(
        peft_tensor_name(0, "k_proj", "lora_A"),
        Tensor::zeros((8, 32), DType::F32, &Device::Cpu).unwrap(),
    );
    let err = model
        .load_lora(&LoraConfig::default(), &tensors)
        .unwrap_err()
        .to_string();
    assert!(err.contains("k_proj"), "{err}");
}

/// Logits of a left-padded two-row prompt (its last positions, f32) and of four greedy
/// decoding steps after it ([`Llama::decode_step`]): the steps generation takes.
fn prompt_and_decoding_logits(model: &Llama) -> Vec<Tensor> {
    let rows = vec![vec![3u32, 7, 11, 13, 17, 19], vec![23u32, 29, 31]];
    let input = Input::left_padded(&rows, &[0, 0], 0, &Device::Cpu).unwrap();
    let mut cache = model.new_cache();
    let mut logits = vec![model.forward_last(&input, Some(&mut cache)).unwrap()];
    for step in 0..4u32 {
        let next: Vec<u32> = logits
            .last()
            .unwrap()
            .argmax(D::Minus1)
            .unwrap()
            .to_vec1()
            .unwrap();
        let input = Input {
            ids: Tensor::from_vec(next, (2, 1), &Device::Cpu).unwrap(),
            positions: vec![vec![6 + step], vec![3 + step]],
            valid: None,
        };
        logits.push(model.decode_step(&input, &mut cache).unwrap());
    }
    logits
}

#[test]
fn quantised_decoding_stays_within_tolerance_of_f32() {
    let exact = tiny();
    let mut quantised = tiny();
    quantised.set_quantized_inference(true);
    // The copies are made by the first decoding step, not before: scoring never pays for them.
    assert_eq!(quantised.quantized_bytes(), 0);
    let fast = prompt_and_decoding_logits(&quantised);
    // Seven linears in each of 2 layers plus the output layer, at 34 bytes per 32 weights.
    let weights = 2 * (32 * 32 + 16 * 32 * 2 + 32 * 32 + 64 * 32 * 2 + 32 * 64) + 50 * 32;
    assert_eq!(quantised.quantized_bytes(), weights / 32 * 34);
    for (step, (a, b)) in prompt_and_decoding_logits(&exact)
        .iter()
        .zip(&fast)
        .enumerate()
    {
        let scale = max_abs(a);
        let diff = max_abs_diff(a, b);
        if step == 0 {
            assert_eq!(diff, 0.0, "the prompt's logits are f32");
            continue;
        }
        assert!(
            diff > 0.0,
            "step {step} should run on the quantised weights"
        );
        assert!(
            diff < 0.02 * scale,
            "step {step}: logits differ by {diff} (scale {scale})"
        );
        let probs = |l: &Tensor| candle_nn::ops::softmax_last_dim(l).unwrap();
        let prob_diff = max_abs_diff(&probs(a), &probs(b));
        assert!(
            prob_diff < 0.01,
            "step {step}: probabilities differ by {prob_diff}"
        );
    }
    quantised.set_quantized_inference(false);
    assert_eq!(quantised.quantized_bytes(), 0);
    let logits = prompt_and_decoding_logits(&quantised);
    assert_eq!(
        max_abs_diff(&logits[4], &prompt_and_decoding_logits(&exact)[4]),
        0.0
    );
}

#[test]
fn only_decoding_steps_use_the_quantised_copies() {
    let mut model = tiny();
    model.set_quantized_inference(true);
    let varmap = VarMap::new();
    model
        .attach_lora(&LoraConfig::default(), &varmap, 1)
        .unwrap();
    let mut exact = tiny();
    let adapter: HashMap<String, Tensor> = model.lora_tensors().into_iter().collect();
    exact.load_lora(&LoraConfig::default(), &adapter).unwrap();
    // Four tokens: as few rows as a decoding step of a batch of four.
    let input = Input::from_tokens(&[1, 4, 9, 16], 0, &Device::Cpu).unwrap();
    for mode in [Mode::Training, Mode::Inference] {
        let hidden = |m: &Llama| m.forward_hidden(&input, None, mode).unwrap();
        assert_eq!(
            max_abs_diff(&hidden(&model), &hidden(&exact)),
            0.0,
            "{mode:?}"
        );
    }
    assert_eq!(
        max_abs_diff(
            &model.forward_last(&input, None).unwrap(),
            &exact.forward_last(&input, None).unwrap()
        ),
        0.0
    );
    let step = |m: &Llama| {
        let mut cache = m.new_cache();
        m.decode_step(&input, &mut cache).unwrap()
    };
    assert!(max_abs_diff(&step(&model), &step(&exact)) > 0.0);
}

#[test]
fn merging_an_adapter_requantises_the_merged_weights() {
    let cfg = LoraConfig::default();
    let mut model = tiny();
    let varmap = VarMap::new();
    model.attach_lora(&cfg, &varmap, 5).unwrap();
    for (name, var) in varmap.data().lock().unwrap().iter() {
        if name.contains("lora_B") {
            var.set(&(var.as_tensor().ones_like().unwrap() * 0.05).unwrap())
                .unwrap();
        }
    }
    let tensors: HashMap<String, Tensor> = model.lora_tensors().into_iter().collect();
    let mut quantised = tiny();
    quantised.set_quantized_inference(true);
    quantised.quantize_now().unwrap();
    let bytes = quantised.quantized_bytes();
    quantised.load_lora(&cfg, &tensors).unwrap();
    quantised.merge_lora().unwrap();
    // The merged layers (q and v) drop their stale copies and make new ones on use.
    assert!(quantised.quantized_bytes() < bytes);
    let mut merged = tiny();
    merged.load_lora(&cfg, &tensors).unwrap();
    merged.merge_lora().unwrap();
    let (a, b) = (
        prompt_and_decoding_logits(&merged),
        prompt_and_decoding_logits(&quantised),
    );
    let plain = prompt_and_decoding_logits(&tiny());
    assert_eq!(quantised.quantized_bytes(), bytes);
    let scale = max_abs(&a[4]);
    assert!(max_abs_diff(&a[4], &b[4]) < 0.02 * scale);
    assert!(
        max_abs_diff(&a[4], &plain[4]) > max_abs_diff(&a[4], &b[4]),
        "the quantised copy should hold the merged weights, not the base ones"
    );
}

#[test]
fn prefix_blocks_join_into_one_cache_and_refuse_what_is_not_a_block() {
    let model = tiny();
    let layers = model.new_cache().num_layers();
    let step = |blocks: &[Cache], tokens: &[u32], start: usize| {
        let mut cache = Cache::over_blocks(blocks, layers).unwrap();
        let input = Input::from_tokens(tokens, start, &Device::Cpu).unwrap();
        model
            .forward_hidden(&input, Some(&mut cache), Mode::Inference)
            .unwrap();
        cache.own_part().unwrap()
    };
    let first = step(&[], &[3, 7, 11], 0);
    let second = step(std::slice::from_ref(&first), &[13, 17], 3);
    assert_eq!((first.len(), second.len()), (3, 2));
    let joined = Cache::join(&[first.clone(), second], layers).unwrap();
    assert_eq!(joined.len(), 5);
    // The joined cache decodes as the cache of the five tokens run in one step does.
    let mut whole = model.new_cache();
    let input = Input::from_tokens(&[3, 7, 11, 13, 17], 0, &Device::Cpu).unwrap();
    model
        .forward_hidden(&input, Some(&mut whole), Mode::Inference)
        .unwrap();
    let next = Input::from_tokens(&[19], 5, &Device::Cpu).unwrap();
    let mut joined_fork = joined.clone();
    let a = model.forward_last(&next, Some(&mut joined_fork)).unwrap();
    let b = model.forward_last(&next, Some(&mut whole)).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-4);
    // A batch of two rows, or a cache with no keys of its own, is not a block.
    let two_rows = first.share_batch(2).unwrap();
    assert!(Cache::over_blocks(&[two_rows], layers).is_err());
    assert!(Cache::over_blocks(&[model.new_cache()], layers).is_err());
}
