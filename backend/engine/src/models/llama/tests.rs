//! The decoder against itself: shapes, caches, padding, LoRA, offsets and the training path.

use super::*;
use crate::models::testing::max_abs_diff;

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
fn repeated_prefix_cache_serves_a_padded_batch() {
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
    let mut batch_cache = cache.repeat_batch(2).unwrap();
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
