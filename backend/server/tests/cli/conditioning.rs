//! Profile conditioning from the command line on the tiny random model: `train --method steer`
//! makes a conditioner, `eval --method steer --adapter` uses it, `protocol` tests it on the
//! held-out profiles; `train --method vim-cond` makes one adapter that `eval --method vim-cond`
//! uses for every group; the flags that belong to the other kind of training are refused.

use crate::common::{arg, data_dir, print_spec, text, valuelab};
use std::path::Path;
use valuelab_engine::models::testing::{
    write_random_tiny_gguf, write_random_tiny_gguf_with_context,
};

/// `eval pvq` of Albania and Group_12 (4 items) under `method` with the folder `adapter`; its
/// results.json.
fn eval_two_groups(method: &str, adapter: &Path, model: &Path, run: &Path) -> serde_json::Value {
    let output = valuelab(&[
        "eval",
        "pvq",
        "--method",
        method,
        "--adapter",
        arg(adapter),
        "--model",
        arg(model),
        "--group",
        "Albania",
        "--group",
        "Group_12",
        "--limit-items",
        "4",
        "--out",
        arg(run),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

#[test]
fn a_steer_conditioner_is_made_evaluated_and_put_through_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    write_random_tiny_gguf(&model, 7).unwrap();
    let cond = dir.path().join("steer");
    let output = valuelab(&[
        "train",
        "--method",
        "steer",
        "--model",
        arg(&model),
        "--no-respondents",
        "--layers",
        "1",
        "--alphas",
        "0,4",
        "--steer-arguments",
        "8",
        "--validation-examples",
        "4",
        "--out",
        arg(&cond),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(shown.contains("--method steer --adapter"), "{shown}");
    for file in [
        "conditioning.json",
        "conditioner.safetensors",
        "split.json",
        "training.json",
        "job.json",
    ] {
        assert!(cond.join(file).is_file(), "{file}");
    }

    let results = eval_two_groups("steer", &cond, &model, &dir.path().join("pvq"));
    assert_eq!(results["method"], "steer");

    let protocol = dir.path().join("protocol");
    let output = valuelab(&[
        "protocol",
        "--steer",
        arg(&cond),
        "--methods",
        "base",
        "--tasks",
        "pvq,ess",
        "--ess-microdata",
        arg(&data_dir().join("ess/microdata/ess9_no.csv")),
        "--ess-groups",
        "2",
        "--model",
        arg(&model),
        "--limit-items",
        "4",
        "--bootstrap",
        "20",
        "--out",
        arg(&protocol),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("48 held-out profiles") && shown.contains("steer"),
        "{shown}"
    );
    assert!(
        shown.contains("ESS opinions, 1 country: between-group r"),
        "{shown}"
    );
    assert!(std::fs::read_to_string(protocol.join("protocol.md"))
        .unwrap()
        .contains("## Goals"));
}

#[test]
fn each_kind_of_training_refuses_the_other_kinds_flags() {
    let output = valuelab(&["train", "--method", "vim", "--out", "x"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("give --group"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&[
        "train",
        "--method",
        "profile-offset",
        "--group",
        "Albania",
        "--out",
        "x",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("drop --group Albania"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&[
        "train",
        "--method",
        "steer",
        "--relevance-layer",
        "22",
        "--out",
        "x",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--relevance-layer 22 belongs to --method profile-readout"),
        "{}",
        text(&output.stderr)
    );
    let spec = print_spec(&[
        "train",
        "--method",
        "profile-readout",
        "--relevance-layer",
        "22",
        "--relevance-text",
        "subject",
        "--fit-level",
        "--probe-arguments",
        "2000",
        "--out",
        "c",
    ]);
    assert_eq!(spec["relevance_layer"], 22);
    assert_eq!(spec["relevance_text"], "subject");
    assert_eq!(spec["fit_level"], true);
    assert_eq!(spec["probe_arguments"], 2000);
    let output = valuelab(&[
        "train",
        "--method",
        "profile-offset",
        "--fit-level",
        "--out",
        "c",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--fit-level belongs to --method profile-readout"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&[
        "train",
        "--method",
        "profile-readout",
        "--relevance-text",
        "subject",
        "--out",
        "c",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--relevance-text subject needs --relevance-layer"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&[
        "train",
        "--method",
        "profile-readout",
        "--probe-arguments",
        "500",
        "--out",
        "c",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--probe-arguments 500 fits the probe of --relevance-layer"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&["protocol", "--methods", "steer", "--out", "x"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--steer DIR"),
        "{}",
        text(&output.stderr)
    );
    // `--methods none`: only the trained methods given by folder.
    let spec = print_spec(&[
        "protocol",
        "--steer",
        "cond",
        "--methods",
        "none",
        "--out",
        "x",
    ]);
    let methods = spec["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 1, "{spec}");
    assert_eq!(methods[0]["method"], "steer", "{spec}");
    // --print-spec shows the job the web app and the cluster run.
    let spec = print_spec(&[
        "train",
        "--method",
        "profile-offset",
        "--minutes",
        "5",
        "--out",
        "c",
    ]);
    assert_eq!(spec["job"], "condition");
    assert_eq!(spec["method"], "profile-offset");
    assert_eq!(spec["minutes"], 5.0);
    assert_eq!(spec["lr"], 0.01);
}

#[test]
fn a_vim_cond_adapter_is_trained_and_evaluated_for_several_groups() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-long.gguf");
    write_random_tiny_gguf_with_context(&model, 7, 2048).unwrap();
    let adapter = dir.path().join("vim-cond");
    let output = valuelab(&[
        "train",
        "--method",
        "vim-cond",
        "--model",
        arg(&model),
        "--no-respondents",
        "--examples",
        "8",
        "--validation-examples",
        "2",
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--rank",
        "2",
        "--max-seq-len",
        "1400",
        "--out",
        arg(&adapter),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("70 training profiles") && shown.contains("--method vim-cond --adapter"),
        "{shown}"
    );
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "valuelab_adapter.json",
        "split.json",
        "job.json",
    ] {
        assert!(adapter.join(file).is_file(), "{file}");
    }
    let results = eval_two_groups("vim-cond", &adapter, &model, &dir.path().join("pvq"));
    assert_eq!(results["method"], "vim-cond");
    assert_eq!(results["groups"].as_array().unwrap().len(), 2);

    let spec = print_spec(&[
        "train",
        "--method",
        "vim-cond",
        "--examples",
        "100",
        "--out",
        "c",
    ]);
    assert_eq!(spec["job"], "vim-cond");
    assert_eq!(spec["examples"], 100);
    assert_eq!(spec["lr"], 2e-4);
    assert_eq!(spec["tasks"], "vim");
    let output = valuelab(&[
        "train", "--method", "vim-cond", "--group", "Albania", "--out", "x",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("drop --group Albania"),
        "{}",
        text(&output.stderr)
    );
}

/// Per-group VIM as the protocol's yardstick: one command trains an adapter per held-out and
/// sign-check profile, and `protocol --vim` takes their folder (its split is beside them).
#[test]
fn per_group_vim_for_the_held_out_profiles_is_trained_and_scored_by_folder() {
    let spec = print_spec(&[
        "train",
        "--method",
        "vim",
        "--held-out-of",
        "cond",
        "--max-steps",
        "2",
        "--out",
        "vim-held",
    ]);
    assert_eq!(spec["job"], "vim-held-out", "{spec}");
    assert!(spec["split"].as_str().unwrap().ends_with("cond"), "{spec}");
    assert_eq!(spec["sign_check"], true);
    assert_eq!(spec["max_steps"], 2);
    assert_eq!(spec["method"], "vim");
    let output = valuelab(&[
        "train",
        "--method",
        "vim",
        "--held-out-of",
        "cond",
        "--group",
        "Albania",
        "--out",
        "x",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("drop --group Albania"),
        "{}",
        text(&output.stderr)
    );
    let output = valuelab(&[
        "train",
        "--method",
        "steer",
        "--held-out-of",
        "cond",
        "--out",
        "x",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("use it with --method vim"),
        "{}",
        text(&output.stderr)
    );
    let spec = print_spec(&[
        "protocol",
        "--vim",
        "vim-held",
        "--methods",
        "none",
        "--out",
        "x",
    ]);
    assert_eq!(spec["methods"][0]["method"], "vim", "{spec}");
    assert!(
        spec["split"].as_str().unwrap().ends_with("vim-held"),
        "{spec}"
    );
}
