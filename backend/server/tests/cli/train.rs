//! `valuelab train` end to end on the shared research data (`VALUELAB_DATA_DIR`, else
//! `../shared/data` next to the checkout): on a tiny random GGUF (fast: training, the PEFT
//! output, resuming and loading the adapter back), and two steps on the real SmolLM2 file, found
//! as `--model smollm2` finds it (CI installs it with scripts/install-model.sh; the test fails,
//! never skips, when it is missing).

use crate::common::{arg, data_dir, text, valuelab};
use std::process::Command;
use valuelab_engine::models::testing::write_random_tiny_gguf;

#[test]
fn train_writes_a_peft_adapter_that_resumes_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    write_random_tiny_gguf(&gguf, 1).unwrap();
    let out = dir.path().join("adapter");
    let common = [
        "train",
        "--group",
        "Albania",
        "--method",
        "vim",
        "--model",
        arg(&gguf),
        "--max-examples",
        "6",
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
        "--max-seq-len",
        "96",
        "--rank",
        "2",
        "--checkpoint-every",
        "1",
        "--out",
        arg(&out),
    ];
    let first = valuelab(&[&common[..], &["--max-steps", "2"]].concat());
    assert!(first.status.success(), "stderr: {}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains("trained 2 steps of 2 (fresh start)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("adapter: {}", out.display())),
        "{stdout}"
    );
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "training_log.jsonl",
        "trainer_state.json",
        "checkpoint",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(
        (config["peft_type"].as_str(), config["r"].as_u64()),
        (Some("LORA"), Some(2))
    );

    let resumed = valuelab(&[&common[..], &["--max-steps", "3", "--resume"]].concat());
    assert!(
        resumed.status.success(),
        "stderr: {}",
        text(&resumed.stderr)
    );
    assert!(
        text(&resumed.stdout).contains("trained 3 steps of 3 (resumed at step 2)"),
        "{}",
        text(&resumed.stdout)
    );
    let log = std::fs::read_to_string(out.join("training_log.jsonl")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(r#""event":"step""#))
            .count(),
        3,
        "{log}"
    );

    // The adapter applies to the model it was trained on.
    let scored = valuelab(&[
        "score",
        "--model",
        arg(&gguf),
        "--adapter",
        arg(&out),
        "--prompt",
        "Answer:",
        "--option",
        "1",
        "--option",
        "2",
    ]);
    assert!(scored.status.success(), "stderr: {}", text(&scored.stderr));
}

#[test]
fn an_unknown_group_fails_before_loading_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = valuelab(&[
        "train",
        "--group",
        "Atlantis",
        "--method",
        "ag",
        "--model",
        "no-such.gguf",
        "--out",
        arg(dir.path()),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Atlantis"), "{stderr}");
}

#[test]
fn two_steps_on_the_real_smollm2() {
    // Resolved exactly as the binary resolves `--model smollm2`, so the check and the run agree.
    if let Err(e) = valuelab_engine::models::resolve("smollm2") {
        panic!("this test needs SmolLM2 (run scripts/install-model.sh): {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("adapter");
    let run = Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .args([
            "train",
            "--group",
            "Group_1",
            "--method",
            "qa",
            "--max-steps",
            "2",
            "--max-examples",
            "4",
            "--batch-size",
            "1",
            "--max-seq-len",
            "64",
            "--out",
            arg(&out),
        ])
        .env("VALUELAB_DATA_DIR", data_dir())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("the valuelab binary runs");
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(stdout.contains("trained 2 steps of 2"), "{stdout}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["base_model_name_or_path"],
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    );
}
