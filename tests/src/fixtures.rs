//! Two `eval args` runs (method A and method B) over the same groups and conclusions, plus the
//! groups file their `run.json` names, in a folder of the caller's choice.

use std::path::{Path, PathBuf};
use valuelab_common::ALL_VALUES;
use valuelab_engine::eval::result::{ArgumentGeneration, ItemRecord, RunInfo};
use valuelab_engine::eval::{AnswerMode, MethodLabel, TaskKind};

/// Conclusions of the fixture (topics of Touché23-ValueEval's test split).
pub const CONCLUSIONS: [&str; 6] = [
    "We should ban school uniforms",
    "We should subsidize public transport",
    "We should abolish the death penalty",
    "We should legalize cannabis",
    "We should ban fast food advertising",
    "We should adopt a four-day work week",
];

pub struct ArgsRuns {
    pub run_a: PathBuf,
    pub run_b: PathBuf,
    pub groups_file: PathBuf,
}

/// One argument of the fixture: a stance and a premise on the conclusion's topic.
pub fn argument(method: &str, conclusion: &str, group: &str, stance: &str) -> ArgumentGeneration {
    let topic = conclusion.trim_start_matches("We should ").to_lowercase();
    ArgumentGeneration {
        conclusion: conclusion.to_string(),
        method: method.parse().expect("a known method"),
        stance: Some(stance.to_string()),
        stance_text: format!("I {}.", if stance == "against" { "disagree" } else { "agree" }),
        premise: Some(format!(
            "To {topic} {} for {group} because people with these values care about fairness and community.",
            if stance == "against" { "harms too many" } else { "helps most" }
        )),
        premise_lead_in: None,
    }
}

/// Writes run folders `dir/run-a` (prompt-long) and `dir/run-b` (vim) for `groups` × the first
/// `items` conclusions; `edit` may change any record of run B (to plant a bad argument).
pub fn write_args_runs(
    dir: &Path,
    groups: &[&str],
    items: usize,
    edit: impl Fn(&str, &str, &mut ArgumentGeneration),
) -> ArgsRuns {
    std::fs::create_dir_all(dir).expect("fixture folder");
    let groups_file = dir.join("groups.tsv");
    let mut tsv = format!(
        "Country\t{}\n",
        ALL_VALUES
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join("\t")
    );
    for (g, group) in groups.iter().enumerate() {
        let scores: Vec<String> = (0..ALL_VALUES.len())
            .map(|v| format!("{:.1}", 2.0 + ((g + v) % 4) as f64))
            .collect();
        tsv.push_str(&format!("{group}\t{}\n", scores.join("\t")));
    }
    std::fs::write(&groups_file, tsv).expect("groups file");
    let run = |name: &str,
               method: &str,
               stance: &str,
               edit: &dyn Fn(&str, &str, &mut ArgumentGeneration)| {
        let run_dir = dir.join(name);
        std::fs::create_dir_all(&run_dir).expect("run folder");
        let info = RunInfo {
            task: TaskKind::Args,
            method: method.parse::<MethodLabel>().expect("a known method"),
            model: "fixture".to_string(),
            adapter: None,
            answer_mode: AnswerMode::Sample,
            groups_file: groups_file.display().to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            seed: 1,
            samples: 1,
            shots: 0,
            limit_items: Some(items),
            gold: None,
            started: "2026-11-27T00:00:00Z".to_string(),
            finished: Some("2026-11-27T00:01:00Z".to_string()),
            valuelab_version: "fixture".to_string(),
            speed: Vec::new(),
        };
        std::fs::write(
            run_dir.join("run.json"),
            serde_json::to_string_pretty(&info).expect("run.json"),
        )
        .expect("run.json written");
        let mut lines = String::new();
        for group in groups {
            for (i, conclusion) in CONCLUSIONS.iter().take(items).enumerate() {
                let item = format!("arg{i}");
                let mut generation = argument(method, conclusion, group, stance);
                edit(group, &item, &mut generation);
                let record = ItemRecord {
                    group: group.to_string(),
                    item,
                    probs: None,
                    samples: Some(vec![generation.stance_text.clone()]),
                    answer: None,
                    parse_failures: 0,
                    refusals: 0,
                    generation: Some(generation),
                };
                lines.push_str(&serde_json::to_string(&record).expect("item record"));
                lines.push('\n');
            }
        }
        std::fs::write(run_dir.join("items.jsonl"), lines).expect("items.jsonl written");
        run_dir
    };
    ArgsRuns {
        run_a: run("run-a", "prompt-long", "in favor of", &|_, _, _| {}),
        run_b: run("run-b", "vim", "against", &edit),
        groups_file,
    }
}

/// The shared research data: `VALUELAB_DATA_DIR`, else `../shared/data` beside the checkout.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os("VALUELAB_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// A random tiny Llama as a GGUF file in `dir` (the engine's test model: milliseconds a call).
pub fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    valuelab_engine::models::testing::write_random_tiny_gguf(&path, 7)
        .expect("the tiny test model is written");
    path
}
