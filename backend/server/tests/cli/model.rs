//! `valuelab generate` and `valuelab score` end to end on a tiny GGUF written by the engine's
//! test helpers (random weights, byte-level test tokenizer), plus their error messages.

use crate::common::{text, valuelab_env};
use std::path::Path;
use std::process::{Command, Output};
use valuelab_engine::models::testing::write_random_tiny_gguf;

fn valuelab(args: &[&str], models_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .args(args)
        .env("VALUELAB_MODELS_DIR", models_dir)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("the valuelab binary runs")
}

fn tiny_gguf(dir: &Path) -> String {
    let path = dir.join("tiny.gguf");
    write_random_tiny_gguf(&path, 1).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn generate_prints_the_requested_samples() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_gguf(dir.path());
    let out = valuelab(
        &[
            "generate",
            "--model",
            &model,
            "--prompt",
            "Hello",
            "--persona",
            "A person.",
            "--max-tokens",
            "5",
            "--n",
            "3",
            "--seed",
            "1",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("--- sample").count(), 3, "{stdout}");
    assert!(text(&out.stderr).contains("tokens/s"));
}

#[test]
fn score_prints_probabilities_that_sum_to_one_and_the_expected_index() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_gguf(dir.path());
    let out = valuelab(
        &[
            "score",
            "--model",
            &model,
            "--prompt",
            "How much like you? Answer:",
            "--option",
            "1",
            "--option",
            "2",
            "--option",
            "Very much",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let probs: Vec<f64> = stdout
        .lines()
        .skip(1)
        .take(3)
        .map(|line| line.split_whitespace().last().unwrap().parse().unwrap())
        .collect();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{stdout}");
    assert!(stdout.contains("expected index:"), "{stdout}");
}

#[test]
fn unknown_models_and_missing_installs_fail_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = valuelab(
        &["score", "--model", "gpt5", "--prompt", "x", "--option", "a"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown model 'gpt5'"),
        "{}",
        text(&out.stderr)
    );

    // VALUELAB_MODELS_DIR points at an empty folder: smollm2 is not installed there.
    let out = valuelab(
        &["generate", "--model", "smollm2", "--prompt", "x"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("scripts/install-model.sh"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_adapter_folder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_gguf(dir.path());
    let missing = dir.path().join("no-adapter");
    let out = valuelab(
        &[
            "generate",
            "--model",
            &model,
            "--adapter",
            missing.to_str().unwrap(),
            "--prompt",
            "x",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot apply adapter") && stderr.contains("adapter_config.json"),
        "{stderr}"
    );
}

/// Issue 7: a file that is not a GGUF gets a clear message and no stack frames, even with
/// RUST_BACKTRACE set (candle attaches a backtrace to its errors then).
#[test]
fn a_broken_gguf_gets_a_message_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.gguf");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let truncated = dir.path().join("truncated.gguf");
    let whole = std::fs::read(tiny_gguf(dir.path())).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    for (bad, expected) in [
        (&random, "not a readable GGUF file"),
        (&truncated, "truncated.gguf"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_valuelab"))
            .args([
                "generate",
                "--model",
                bad.to_str().unwrap(),
                "--prompt",
                "Hi",
            ])
            .env("RUST_BACKTRACE", "1")
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("candle_core::"),
            "a backtrace leaked:\n{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line:\n{stderr}");
    }
}

/// `valuelab bench --json` names what it measured, and `scripts/bench/ratio_table.py` turns it and
/// a peer's figures into ratios valuelab ÷ peer, faster or slower by the figure's direction.
#[test]
fn bench_json_names_its_settings_and_the_ratio_table_divides_by_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_gguf(dir.path());
    let json = dir.path().join("valuelab.json");
    let json_arg = json.to_str().unwrap();
    let out = valuelab_env(
        &[
            "bench",
            "--model",
            &model,
            "--prompt-tokens",
            "8",
            "--gen-tokens",
            "2",
            "--batches",
            "1",
            "--repeats",
            "1",
            "--train-steps",
            "0",
            "--json",
            json_arg,
        ],
        &[
            ("VALUELAB_DATA_DIR", None),
            ("VALUELAB_INFERENCE_WEIGHTS", None),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let settings = &report["settings"];
    assert_eq!(settings["inference_weights"], "q8_0");
    assert!(report["quantized_mb"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(settings["model_file"], model.as_str());
    assert_eq!(settings["prompt_tokens"], 8);
    assert_eq!(settings["gen_tokens"], 2);
    assert_eq!(settings["repeats"], 1);
    assert_eq!(settings["train_steps"], 0);
    let ours = |kind: &str| report[kind][0]["tokens_per_s"].as_f64().unwrap();

    // A peer half as fast at prompts and twice as fast at generating, with no training figure.
    let peer = dir.path().join("peer.json");
    let peer_figures = serde_json::json!({
        "peer": "llama.cpp",
        "prompt_tok_s_b1": ours("prompt") / 2.0,
        "gen_tok_s_b1": ours("generation") * 2.0,
    });
    std::fs::write(&peer, peer_figures.to_string()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench/ratio_table.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args([&json, &peer])
        .output()
        .expect("python3 runs");
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let row = |label: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row {label} in\n{table}"))
            .to_string()
    };
    assert!(
        row("prompt processing, batch 1").ends_with("| 2.00 (faster) |"),
        "{table}"
    );
    assert!(
        row("greedy generation, batch 1").ends_with("| 0.50 (slower) |"),
        "{table}"
    );
    assert!(
        row("LoRA train step, batch 4 x 128").ends_with("|  |  |"),
        "{table}"
    );
    assert!(table.contains("| what | valuelab | llama.cpp | valuelab / llama.cpp |"));
}

#[test]
fn bench_measures_the_f32_decoding_steps_on_request_and_bad_weight_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_gguf(dir.path());
    let json = dir.path().join("f32.json");
    let json_arg = json.to_str().unwrap();
    let bench = |weights: &[&str], env: &str| {
        let mut args = vec!["bench", "--model", &model, "--prompt-tokens", "4"];
        args.extend(["--gen-tokens", "2", "--batches", "1", "--repeats", "1"]);
        args.extend(["--train-steps", "0", "--json", json_arg]);
        args.extend(weights);
        valuelab_env(
            &args,
            &[
                ("VALUELAB_DATA_DIR", None),
                ("VALUELAB_INFERENCE_WEIGHTS", Some(env)),
            ],
        )
    };
    // The flag wins over the environment.
    let out = bench(&["--inference-weights", "f32"], "q8_0");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("weights         f32 for decoding steps (0 MB quantised)"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["settings"]["inference_weights"], "f32");
    assert_eq!(report["quantized_mb"], 0.0);

    let out = bench(&[], "q4");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "VALUELAB_INFERENCE_WEIGHTS: 'q4' is not a weight type: use q8_0 (the default) or f32"
        ),
        "{err}"
    );
}
