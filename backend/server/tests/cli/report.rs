//! `valuelab report` end to end: two small run directories in, tables on stdout and
//! report.json, report.md and SVG plots in the output folder.

use std::path::Path;
use std::process::Command;

/// A PVQ results.json of two groups whose predictions are the targets moved by `shift`.
fn write_run(dir: &Path, method: &str, shift: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let values = [
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0],
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 6.0, 5.0, 4.0, 3.0],
    ];
    let keys = [
        "Achievement",
        "Benevolence",
        "Conformity",
        "Hedonism",
        "Power",
        "Security",
        "Self-direction",
        "Stimulation",
        "Tradition",
        "Universalism",
    ];
    let groups: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(g, v)| {
            let target: Vec<f64> = v.iter().map(|x| (x - 1.0) / 5.0).collect();
            let predicted: Vec<f64> = target.iter().map(|t| t + shift).collect();
            serde_json::json!({
                "group": format!("Group_{}", g + 1), "size": 100 * (g + 1), "values": v,
                "target": target, "predicted": predicted,
                "answered": 40, "parse_failures": 0, "refusals": 0
            })
        })
        .collect();
    let run = serde_json::json!({
        "task": "pvq", "method": method, "model": "smollm2", "answer_mode": "expect",
        "keys": keys, "categories": keys, "groups": groups
    });
    std::fs::write(dir.join("results.json"), run.to_string()).unwrap();
}

fn valuelab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .args(args)
        .output()
        .expect("valuelab runs")
}

#[test]
fn report_of_two_runs_prints_tables_and_writes_files() {
    let root = tempfile::tempdir().unwrap();
    let (long, vim) = (root.path().join("pvq-long"), root.path().join("pvq-vim"));
    write_run(&long, "prompt-long", 0.2);
    write_run(&vim, "vim", 0.1);
    let out = root.path().join("out");
    let output = valuelab(&[
        "report",
        long.to_str().unwrap(),
        vim.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--pair",
        "Group_2",
        "Group_1",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // NMSE = shift²: 0.04 and 0.01; both are pure level shifts, so profile r is 1.
    assert!(stdout.contains("| prompt-long | 0.040 |"), "{stdout}");
    assert!(stdout.contains("| vim | 0.010 |"), "{stdout}");
    assert!(
        stdout.contains("*paper: ViLLaMA-7B (Kang et al. 2023, Table 2)* | 0.034"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Contrast Group_2 vs Group_1 (given"),
        "{stdout}"
    );
    for file in [
        "report.json",
        "report.md",
        "pvq_nmse_by_category.svg",
        "pvq_size_vs_nmse.svg",
        "pvq_radar_Group_1.svg",
        "pvq_radar_Group_2.svg",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        json["tasks"][0]["rows"][0]["profile_r"]
            .as_f64()
            .map(|r| (r - 1.0).abs() < 1e-9),
        Some(true)
    );
    // the legend's <text> element (the SVG backend puts its content on its own line)
    let radar = std::fs::read_to_string(out.join("pvq_radar_Group_1.svg")).unwrap();
    assert!(radar.split("<text").any(|t| t
        .split_once('>')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with("target\n</text>"))));
}

#[test]
fn report_defaults_to_a_folder_beside_the_first_run() {
    let root = tempfile::tempdir().unwrap();
    let run = root.path().join("runs").join("pvq-vim");
    write_run(&run, "vim", 0.1);
    let output = valuelab(&["report", run.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(root.path().join("runs/report/report.md").is_file());
}

#[test]
fn report_of_a_folder_without_results_names_it_and_fails() {
    let root = tempfile::tempdir().unwrap();
    let output = valuelab(&["report", root.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("results.json"), "{stderr}");
}
