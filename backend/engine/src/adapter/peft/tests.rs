//! Tests of `peft`.

use super::*;
use crate::models::llama::Config;

fn cfg() -> LoraConfig {
    LoraConfig {
        r: 2,
        lora_alpha: 16.0,
        lora_dropout: 0.05,
        target_modules: vec!["q_proj".into(), "v_proj".into()],
    }
}

/// Adapter tensors for `Config::tiny` (hidden 32, 4 heads and 2 kv heads of 8), values i/10.
fn tensors(r: usize) -> Vec<(String, Tensor)> {
    let model = Config::tiny(100);
    let mut out = Vec::new();
    let mut k = 0.0f32;
    for layer in 0..model.num_layers {
        for module in ["q_proj", "v_proj"] {
            let (fan_in, fan_out) = linear_dims(&model, module);
            for (factor, shape) in [("lora_A", (r, fan_in)), ("lora_B", (fan_out, r))] {
                let n = shape.0 * shape.1;
                let values: Vec<f32> = (0..n).map(|i| k + i as f32 / 10.0).collect();
                k += 1.0;
                out.push((
                    peft_tensor_name(layer, module, factor),
                    Tensor::from_vec(values, shape, &Device::Cpu).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn saved_adapters_load_back_with_the_same_config_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let written = tensors(2);
    save_adapter(
        dir.path(),
        &cfg(),
        &written,
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    )
    .unwrap();
    let (loaded_cfg, loaded, info) = load_adapter_with_info(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded_cfg, cfg());
    assert_eq!(info.base_model, "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_eq!(loaded.len(), written.len());
    for (name, t) in &written {
        let back = &loaded[name];
        assert_eq!(back.dims(), t.dims(), "{name}");
        assert_eq!(
            back.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
    check_against_model(&loaded_cfg, &loaded, &Config::tiny(100)).unwrap();

    // What PEFT reads: the PEFT field names, an integral alpha written as an int, pt metadata.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap())
            .unwrap();
    assert_eq!(json["peft_type"], "LORA");
    assert_eq!(json["task_type"], "CAUSAL_LM");
    assert_eq!(json["lora_alpha"], Value::from(16));
    assert_eq!(json["bias"], "none");
    assert_eq!(json["fan_in_fan_out"], false);
    assert_eq!(json["inference_mode"], true);
    let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
}

/// `adapter_config.json` exactly as PEFT 0.13's `save_pretrained` writes it for a Llama with
/// `LoraConfig(r=2, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")`:
/// the field set of PEFT's `LoraConfig`/`PeftConfig` dataclasses (huggingface/peft
/// `src/peft/tuners/lora/config.py`), keys sorted, `target_modules` in set order.
const PEFT_WRITTEN_CONFIG: &str = r#"{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 2,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
"v_proj",
"q_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false
}"#;

fn folder_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    save_tensors(&dir.path().join(WEIGHTS_FILE), &tensors(2)).unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
    dir
}

#[test]
fn a_config_as_peft_writes_it_loads() {
    let dir = folder_with_config(PEFT_WRITTEN_CONFIG);
    let (loaded, t) = load_adapter(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.r, 2);
    assert_eq!(loaded.lora_alpha, 16.0);
    assert_eq!(loaded.lora_dropout, 0.05);
    assert!(loaded.targets("q_proj") && loaded.targets("v_proj"));
    assert_eq!(t.len(), 8);
}

#[test]
fn rslora_is_loaded_as_the_equivalent_alpha() {
    let dir = folder_with_config(
        &PEFT_WRITTEN_CONFIG.replace(r#""use_rslora": false"#, r#""use_rslora": true"#),
    );
    let (loaded, _) = load_adapter(dir.path(), &Device::Cpu).unwrap();
    // rsLoRA scales by alpha/sqrt(r): 16/sqrt(2).
    assert!((loaded.scale() - 16.0 / 2f64.sqrt()).abs() < 1e-12);
}

#[test]
fn unsupported_peft_settings_are_refused_by_name() {
    for (from, to, expect) in [
        (r#""use_dora": false"#, r#""use_dora": true"#, "use_dora"),
        (r#""bias": "none""#, r#""bias": "all""#, "bias is 'all'"),
        (
            r#""rank_pattern": {}"#,
            r#""rank_pattern": {"q_proj": 4}"#,
            "rank_pattern",
        ),
        (
            r#""modules_to_save": null"#,
            r#""modules_to_save": ["lm_head"]"#,
            "modules_to_save",
        ),
        (
            r#""peft_type": "LORA""#,
            r#""peft_type": "IA3""#,
            "only LORA",
        ),
    ] {
        let dir = folder_with_config(&PEFT_WRITTEN_CONFIG.replace(from, to));
        let err = load_adapter(dir.path(), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expect) && err.contains(CONFIG_FILE),
            "{expect}: {err}"
        );
    }
}

#[test]
fn a_pickle_only_adapter_says_how_to_get_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), PEFT_WRITTEN_CONFIG).unwrap();
    std::fs::write(dir.path().join(PICKLE_WEIGHTS_FILE), b"not read").unwrap();
    let err = load_adapter(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("safe_serialization=True"), "{err}");
}

#[test]
fn tensors_outside_the_targets_or_of_the_wrong_shape_are_named() {
    let only_q = LoraConfig {
        target_modules: vec!["q_proj".into()],
        ..cfg()
    };
    let map: HashMap<String, Tensor> = tensors(2).into_iter().collect();
    let err = check_tensors(&only_q, &map, None).unwrap_err().to_string();
    assert!(
        err.contains("v_proj which is not among the target modules (q_proj)"),
        "{err}"
    );

    let mut bigger = Config::tiny(100);
    bigger.hidden_size = 64;
    let err = check_against_model(&cfg(), &map, &bigger)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("this model needs") && err.contains("another base model"),
        "{err}"
    );

    let mut fewer = Config::tiny(100);
    fewer.num_layers = 1;
    let err = check_against_model(&cfg(), &map, &fewer)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the model has 1 layers"), "{err}");

    let mut lone = map.clone();
    lone.remove(&peft_tensor_name(1, "v_proj", "lora_B"));
    let err = check_tensors(&cfg(), &lone, None).unwrap_err().to_string();
    assert!(
        err.contains("has no matching") && err.contains("layers.1.self_attn.v_proj.lora_B"),
        "{err}"
    );

    let err = check_tensors(&LoraConfig { r: 3, ..cfg() }, &map, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("r = 3"), "{err}");
}
