//! Issue 9, the Slurm backend on a real cluster: `valuelab run SPEC.json --backend slurm`
//! submits a PVQ evaluation of three groups as an array of three tasks, `valuelab jobs status`
//! follows it to the end, `valuelab jobs import` merges the task folders and imports the run —
//! and the merged result equals that of the same spec run locally. Without a cluster (no
//! `sinfo`, or it cannot reach a controller) the test says so and passes: `cargo test` runs
//! anywhere, and `.ci/run` starts a one-node cluster so CI runs it for real.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use valuelab_engine::eval::RunResult;
use valuelab_tests::fixtures::{shared_data_dir, tiny_model};
use valuelab_tests::load::built_valuelab;

/// Why there is no cluster to test on, if there is none.
fn no_cluster() -> Option<String> {
    match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
        Err(_) => Some("sinfo is not installed".to_string()),
        Ok(out) if !out.status.success() => Some(format!(
            "sinfo cannot reach a controller: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(out) if out.stdout.is_empty() => Some("the cluster has no node".to_string()),
        Ok(_) => None,
    }
}

/// `valuelab ARGS`, its registry of submissions under `home`; fails the test on a non-zero exit.
fn valuelab(home: &Path, args: &[&str]) -> Output {
    let output = Command::new(built_valuelab().expect("the valuelab binary is built"))
        .args(args)
        .env("XDG_DATA_HOME", home)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("valuelab runs");
    assert!(
        output.status.success(),
        "valuelab {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn spec(model: &Path, out: &Path) -> String {
    json!({
        "job": "eval", "task": "pvq", "data_dir": shared_data_dir(),
        "groups": {"names": ["Group_1", "Group_2", "Albania"]},
        "model": {"method": "prompt-short", "model": model, "batch_size": 2, "threads": 1},
        "limit_items": 3, "out": out,
    })
    .to_string()
}

#[test]
fn an_array_on_slurm_merges_to_the_result_of_a_local_run() {
    if let Some(why) = no_cluster() {
        eprintln!("SKIPPED: no Slurm cluster here ({why}); .ci/run starts one with scripts/slurm-local.sh");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let model = tiny_model(&root);
    let (local, array) = (root.join("local"), root.join("array"));
    std::fs::write(root.join("local.json"), spec(&model, &local)).unwrap();
    std::fs::write(root.join("array.json"), spec(&model, &array)).unwrap();
    valuelab(&root, &["run", root.join("local.json").to_str().unwrap()]);

    let submitted = valuelab(
        &root,
        &[
            "--backend",
            "slurm",
            "run",
            root.join("array.json").to_str().unwrap(),
        ],
    );
    let id = String::from_utf8(submitted.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty(),
        "job id {id:?}"
    );

    let started = Instant::now();
    let status = loop {
        let out = valuelab(&root, &["jobs", "status", &id, "--json"]);
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        if status["ended"] == true {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the array never ended: {status}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let tasks = status["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{status}");
    for task in tasks {
        assert_eq!(
            task["state"],
            "done",
            "{task}: {}",
            std::fs::read_to_string(task["log"].as_str().unwrap()).unwrap_or_default()
        );
    }

    let database = format!("sqlite://{}", root.join("valuelab.db").display());
    let imported = valuelab(&root, &["jobs", "import", &id, "--database-url", &database]);
    let said = String::from_utf8(imported.stdout).unwrap();
    assert!(said.contains("merged 3 tasks"), "{said}");
    assert_eq!(
        RunResult::load(&array).unwrap(),
        RunResult::load(&local).unwrap()
    );
}
