//! `load-annotators [ANNOTATORS] [JUDGEMENTS_EACH] [--kill-after N] [--think-ms MS]`: the load
//! (and crash) test
//! of docs/annotation.md against the `valuelab` binary built beside this one (use `--release`
//! for the measured figures). Prints the report as JSON.

use std::process::ExitCode;
use valuelab_tests::load::{built_valuelab, run, LoadConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| -> Option<u64> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
    };
    let kill_after = flag("--kill-after").map(|n| n as usize);
    let think_ms = flag("--think-ms").unwrap_or(0);
    let numbers: Vec<usize> = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let result = async {
        let dir = tempfile_dir()?;
        let config = LoadConfig {
            valuelab: built_valuelab()?,
            dir,
            annotators: numbers.first().copied().unwrap_or(100),
            judgements_each: numbers.get(1).copied().unwrap_or(20),
            annotators_per_item: 3,
            kill_after,
            think_ms,
        };
        eprintln!(
            "load-annotators: {} annotators × {} judgements, k = 3, reading {} ms{}, files in {}",
            config.annotators,
            config.judgements_each,
            think_ms,
            kill_after
                .map(|n| format!(", SIGKILL after {n}"))
                .unwrap_or_default(),
            config.dir.display()
        );
        run(config).await
    }
    .await;
    match result {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            if report.lost == 0 && report.duplicated == 0 && report.over_k == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("load-annotators: judgements lost, duplicated or over k");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("load-annotators: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("valuelab-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
