//! `write-fixtures DIR [GROUPS] [ITEMS]`: writes the fixture `eval args` runs (DIR/run-a,
//! DIR/run-b and their groups file) for the browser tests, which cannot call Rust themselves.

use std::path::PathBuf;
use std::process::ExitCode;
use valuelab_tests::fixtures::write_args_runs;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: write-fixtures DIR [GROUPS] [ITEMS]");
        return ExitCode::FAILURE;
    };
    let groups: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let items: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2);
    let names: Vec<String> = (1..=groups).map(|g| format!("Group_{g}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("write-fixtures: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let runs = write_args_runs(&dir, &names, items, |_, _, _| {});
    println!("{}\n{}", runs.run_a.display(), runs.run_b.display());
    ExitCode::SUCCESS
}
