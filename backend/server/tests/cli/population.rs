//! `valuelab structure` and `valuelab simulate` end to end: real ESS countries compared with each
//! other, and a small population of the tiny random model simulated, analysed and ranked.

use crate::common::{arg, data_dir, text, valuelab};
use std::path::Path;
use valuelab_engine::models::testing::write_random_tiny_gguf;

fn country(name: &str) -> String {
    data_dir()
        .join("ess/microdata")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn structure_compares_two_countries_and_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-vs-gb");
    let output = valuelab(&[
        "structure",
        "--ess",
        &country("ess9_no.csv"),
        "--against-ess",
        &country("ess9_gb.csv"),
        "--centred",
        "--json",
        "--out",
        arg(&out),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["n"].as_u64().unwrap() > 1300);
    // Two European countries share the value structure.
    let r = json["matrix_r"].as_f64().unwrap();
    assert!(r > 0.8 && r <= 1.0, "{r}");
    assert_eq!(json["matrix_r"], json["matrix_r_centred"]);
    assert!(json["procrustes"]["correlation"].as_f64().unwrap() > 0.9);
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks[0]["name"], "conservation_vs_openness");
    assert_eq!(checks[0]["pass"], true);
    let share = json["dominant_share"]["share"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.0);
    for file in [
        "structure.json",
        "structure.md",
        "matrix.csv",
        "reference_matrix.csv",
        "matrix.svg",
        "circumplex.svg",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The text form names the ceiling.
    let output = valuelab(&["structure", "--ess", &country("ess9_no.csv")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("ceiling: two halves of ess_pvq21_responses.csv"),
        "{shown}"
    );
}

#[test]
fn structure_refuses_unclear_input_with_the_fix() {
    let output = valuelab(&["structure"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--ess"),
        "{}",
        text(&output.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let output = valuelab(&["structure", arg(dir.path())]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(
        err.contains("respondents.csv") && err.contains("valuelab simulate"),
        "{err}"
    );
    let output = valuelab(&["structure", "--ess", &country("ess9_no.csv"), "--gap", "9"]);
    assert!(
        text(&output.stderr).contains("--gap 9 is outside 0..5"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_simulated_population_is_analysed_and_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    write_random_tiny_gguf(&model, 7).unwrap();
    let simulate = |strategy: &str, out: &Path| {
        valuelab(&[
            "simulate",
            "--strategy",
            strategy,
            "--n",
            "20",
            "--model",
            arg(&model),
            "--instruments",
            "pvq40,bigfive",
            "--limit-items",
            "20",
            "--human",
            &country("ess9_no.csv"),
            "--seed",
            "3",
            "--out",
            arg(out),
        ])
    };
    let (even, np) = (dir.path().join("even"), dir.path().join("np"));
    for (strategy, out) in [("h-even", &even), ("h-np", &np)] {
        let output = simulate(strategy, out);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let shown = text(&output.stdout);
        assert!(
            shown.contains(&format!("population: 20 × {strategy}")),
            "{shown}"
        );
        assert!(
            shown.contains("ceiling (two halves of the people)"),
            "{shown}"
        );
    }
    let output = valuelab(&[
        "structure",
        arg(&np),
        "--against-ess",
        &country("ess9_no.csv"),
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["n"], 20);
    let report = dir.path().join("report");
    let output = valuelab(&["report", arg(&even), arg(&np), "--out", arg(&report)]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = std::fs::read_to_string(report.join("populations.md")).unwrap();
    assert!(
        table.contains("| h-even |") && table.contains("| h-np |"),
        "{table}"
    );
    assert_eq!(
        std::fs::read_to_string(report.join("populations.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    // The spec is a job like any other.
    let output = valuelab(&[
        "--print-spec",
        "simulate",
        "--strategy",
        "uniform",
        "--n",
        "5",
        "--out",
        "x",
    ]);
    let spec = text(&output.stdout);
    assert!(
        spec.contains(r#""job": "simulate""#) && spec.contains(r#""strategy": "uniform""#),
        "{spec}"
    );
    let output = valuelab(&["simulate", "--strategy", "even", "--n", "5", "--out", "x"]);
    assert!(text(&output.stderr).contains("expected uniform, h-norm, h-even, h-np or survey"));
}
