//! `valuelab eval`, `predict ess` and `report` end to end on the shared research data and a tiny
//! random GGUF model (fast; what the answers mean is tested on fixtures in the engine): every task,
//! the prompt methods and a trained adapter, resuming a cut-short run, and predictions for groups
//! and questions the data has never seen.

use crate::common::{arg, data_dir, valuelab};
use std::path::{Path, PathBuf};
use valuelab_engine::models::testing::write_random_tiny_gguf;

fn succeed(args: &[&str]) -> String {
    let out = valuelab(args);
    assert!(
        out.status.success(),
        "valuelab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// A tiny random model, shared by the tests of this file.
fn tiny_model(dir: &Path) -> PathBuf {
    let gguf = dir.join("tiny.gguf");
    write_random_tiny_gguf(&gguf, 7).unwrap();
    gguf
}

#[test]
fn pvq_and_valuenet_run_resume_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let pvq = dir.path().join("pvq-long");
    let pvq_args = [
        "eval",
        "pvq",
        "--method",
        "prompt-long",
        "--model",
        arg(&model),
        "--group",
        "Group_1",
        "--group",
        "Albania",
        "--limit-items",
        "10",
        "--out",
        arg(&pvq),
    ];
    let stdout = succeed(&pvq_args);
    assert!(stdout.contains("mean NMSE over groups:"), "{stdout}");
    let first = results(&pvq);
    assert_eq!(first["method"], "prompt-long");
    let groups = first["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for g in groups {
        // expect mode answers every item; ten items spread over values cover all ten.
        assert_eq!(g["answered"], 10, "{g}");
        assert!(g["predicted"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))));
    }
    assert_eq!(line_count(&pvq.join("items.jsonl")), 20);

    // Cut the run short as a crash would: the resumed run asks only the lost items and ends
    // with the same result.
    let items = std::fs::read_to_string(pvq.join("items.jsonl")).unwrap();
    let kept: Vec<&str> = items.lines().take(13).collect();
    std::fs::write(pvq.join("items.jsonl"), kept.join("\n") + "\n").unwrap();
    std::fs::remove_file(pvq.join("results.json")).unwrap();
    succeed(&pvq_args);
    assert_eq!(line_count(&pvq.join("items.jsonl")), 20);
    // Batches of other sizes pad differently, so floats may differ in the last digits.
    let resumed = results(&pvq);
    for (a, b) in groups.iter().zip(resumed["groups"].as_array().unwrap()) {
        assert_eq!((&a["group"], &a["answered"]), (&b["group"], &b["answered"]));
        for (x, y) in a["predicted"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["predicted"].as_array().unwrap())
        {
            assert!(
                (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-6,
                "{x} vs {y}"
            );
        }
    }

    let base = dir.path().join("pvq-base");
    succeed(&[
        "eval",
        "pvq",
        "--method",
        "base",
        "--model",
        arg(&model),
        "--sample-groups",
        "2",
        "--limit-items",
        "10",
        "--out",
        arg(&base),
    ]);
    let valuenet = dir.path().join("valuenet-dominant");
    succeed(&[
        "eval",
        "valuenet",
        "--method",
        "prompt-dominant",
        "--model",
        arg(&model),
        "--group",
        "Group_1",
        "--limit-items",
        "20",
        "--out",
        arg(&valuenet),
    ]);
    assert_eq!(results(&valuenet)["task"], "valuenet");

    let report = dir.path().join("report");
    let tables = succeed(&[
        "report",
        arg(&pvq),
        arg(&base),
        arg(&valuenet),
        "--out",
        arg(&report),
    ]);
    for method in ["prompt-long", "base", "prompt-dominant"] {
        assert!(tables.contains(&format!("| {method} |")), "{tables}");
    }
    for file in ["report.json", "report.md"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    let svgs = std::fs::read_dir(&report)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(svgs >= 3, "only {svgs} plots");
}

#[test]
fn ess_with_gold_and_predictions_for_unseen_groups_and_questions() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    // Two questions of the shared table, and one the data has never had.
    let shared = std::fs::read_to_string(data_dir().join("vim/ess_round6_questions.tsv")).unwrap();
    let mut questions: Vec<&str> = shared.lines().take(3).collect();
    let novel = "newq\tinvented_chapter\t0-10\tHow much do you trust self-driving cars? Answer with a number from 0 to 10. Answer:";
    questions.push(novel);
    let questions_file = dir.path().join("questions.tsv");
    std::fs::write(&questions_file, questions.join("\n") + "\n").unwrap();
    let codes: Vec<&str> = questions[1..]
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();

    let gold = dir.path().join("gold.tsv");
    let mut rows = vec!["group\tcode\tmean\tn".to_string()];
    for (g, level) in [("Group_1", 0.2), ("Albania", 0.7)] {
        for code in &codes {
            rows.push(format!("{g}\t{code}\t{level}\t50"));
        }
    }
    std::fs::write(&gold, rows.join("\n") + "\n").unwrap();

    let ess = dir.path().join("ess");
    let stdout = succeed(&[
        "eval",
        "ess",
        "--method",
        "prompt-short",
        "--model",
        arg(&model),
        "--group",
        "Group_1",
        "--group",
        "Albania",
        "--questions",
        arg(&questions_file),
        "--gold",
        arg(&gold),
        "--out",
        arg(&ess),
    ]);
    assert!(stdout.contains("mean NMSE over groups:"), "{stdout}");
    let run = results(&ess);
    for g in run["groups"].as_array().unwrap() {
        assert_eq!(g["answered"], 3, "{g}");
        let target = g["target"].as_array().unwrap();
        assert!(target.iter().all(|t| t.as_f64().is_some()), "{g}");
    }

    // A group table of made-up people and the novel question: predictions only.
    let groups = dir.path().join("groups.tsv");
    std::fs::write(
        &groups,
        "\tCountry\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\n\
         0\tDriversClub\t5.5\t3.0\t2.0\t5.9\t5.0\t2.5\t5.0\t6.0\t1.5\t2.0\n",
    )
    .unwrap();
    let predictions = dir.path().join("predictions.tsv");
    let out = valuelab(&[
        "predict",
        "ess",
        "--groups",
        arg(&groups),
        "--questions",
        arg(&questions_file),
        "--method",
        "prompt-long",
        "--model",
        arg(&model),
        "--out",
        arg(&predictions),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&predictions).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "group\tcode\tprediction");
    assert_eq!(lines.len(), 1 + 3, "{table}");
    for (line, code) in lines[1..].iter().zip(&codes) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(&fields[..2], &["DriversClub", *code]);
        let p: f64 = fields[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{line}");
    }
}

#[test]
fn argument_generation_and_an_adapter_trained_here() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let args = dir.path().join("args");
    succeed(&[
        "eval",
        "args",
        "--method",
        // The tiny model's 512-token context is too short for a persona.
        "base",
        "--model",
        arg(&model),
        "--group",
        "Group_1",
        "--limit-items",
        "2",
        "--out",
        arg(&args),
    ]);
    let items = std::fs::read_to_string(args.join("items.jsonl")).unwrap();
    assert_eq!(items.lines().count(), 2, "{items}");
    for line in items.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        // expect mode (the default): a stance by likelihood, always readable, and a lead-in.
        let generation = &record["generation"];
        assert!(generation["stance_text"].is_string(), "{record}");
        assert!(generation["stance"].is_string(), "{record}");
        assert!(generation["premise_lead_in"]
            .as_str()
            .is_some_and(|l| l.ends_with(", because")));
    }

    let adapter = dir.path().join("adapter");
    succeed(&[
        "train",
        "--group",
        "Group_1",
        "--method",
        "qa",
        "--model",
        arg(&model),
        "--max-steps",
        "1",
        "--max-examples",
        "2",
        "--batch-size",
        "1",
        "--max-seq-len",
        "64",
        "--out",
        arg(&adapter),
    ]);
    let vim = dir.path().join("pvq-vim");
    succeed(&[
        "eval",
        "pvq",
        "--method",
        "vim-qa",
        "--adapter",
        arg(&adapter),
        "--model",
        arg(&model),
        "--group",
        "Group_1",
        "--limit-items",
        "10",
        "--out",
        arg(&vim),
    ]);
    assert_eq!(results(&vim)["method"], "vim-qa");

    // The adapter was trained for Group_1: asking it to answer for another group is an error
    // that names the group.
    let wrong = valuelab(&[
        "eval",
        "pvq",
        "--method",
        "vim",
        "--adapter",
        arg(&adapter),
        "--model",
        arg(&model),
        "--group",
        "Albania",
        "--out",
        arg(&dir.path().join("wrong")),
    ]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Albania"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

#[test]
fn a_spec_printed_by_print_spec_and_run_by_valuelab_run_gives_the_commands_results() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let direct = dir.path().join("direct");
    let via_spec = dir.path().join("via-spec");
    let command = |out: &Path| -> Vec<String> {
        [
            "eval",
            "valuenet",
            "--method",
            "prompt-dominant",
            "--model",
            arg(&model),
            "--sample-groups",
            "2",
            "--limit-items",
            "6",
            "--seed",
            "4",
            "--out",
            arg(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    succeed(&strs(&command(&direct)));

    let mut print = command(&via_spec);
    print.push("--print-spec".into());
    let spec = succeed(&strs(&print));
    assert!(!via_spec.exists(), "--print-spec runs nothing");
    let parsed: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(parsed["job"], "eval");
    assert_eq!(parsed["task"], "valuenet");
    assert_eq!(parsed["groups"]["sample"], 2);
    let spec_file = dir.path().join("spec.json");
    std::fs::write(&spec_file, &spec).unwrap();
    let out = valuelab(&["run", arg(&spec_file), "--progress", "jsonl"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mean NMSE over groups:"), "{stdout}");
    // Progress as JSON lines (a cluster task's log): every stderr line is one event.
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(events[0]["kind"], "message");
    let last_items = events.iter().rev().find(|e| e["kind"] == "items").unwrap();
    assert_eq!(
        (&last_items["done"], &last_items["total"]),
        (&12.into(), &12.into())
    );

    assert_eq!(results(&direct), results(&via_spec));
    let record = |run: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("job.json")).unwrap()).unwrap()
    };
    let (a, b) = (record(&direct), record(&via_spec));
    assert_eq!(a["job"]["model"], b["job"]["model"]);
    assert_eq!(b["job"]["out"], arg(&via_spec));
    assert_eq!(b["status"], "finished");
    assert_eq!(b["seed"], 4);
}

#[test]
fn print_spec_is_refused_by_commands_that_run_no_job() {
    let out = valuelab(&["kappa", "--print-spec", "nothing.tsv"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--print-spec is for the commands that run a job"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Issue 7: the engine's errors are neutral; the command line adds the flag that fixes them.
#[test]
fn input_errors_end_with_the_flag_that_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let cases: [(&[&str], &str); 2] = [
        (&["eval", "pvq", "--method", "vim"], "(use --adapter DIR)"),
        (
            &[
                "eval",
                "args",
                "--method",
                "base",
                "--answer",
                "sample",
                "--samples",
                "0",
            ],
            "(use --samples N)",
        ),
    ];
    for (args, hint) in cases {
        let out_dir = dir.path().join("never");
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--model", arg(&model), "--out", arg(&out_dir)]);
        let out = valuelab(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.trim_end().ends_with(hint), "{args:?}: {stderr}");
        assert!(!out_dir.exists(), "bad input writes nothing");
    }
}
