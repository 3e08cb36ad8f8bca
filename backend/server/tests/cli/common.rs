//! Helpers shared by the command-line integration tests (each test file uses a part).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared research data: `VALUELAB_DATA_DIR`, else `../shared/data` next to the checkout.
pub fn data_dir() -> PathBuf {
    let root = std::env::var_os("VALUELAB_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        root.join("vim").is_dir(),
        "these tests need the research data at {} (set VALUELAB_DATA_DIR to its folder)",
        root.display()
    );
    root
}

/// The built binary on the research data, one model thread (test binaries run in parallel).
pub fn valuelab(args: &[&str]) -> Output {
    valuelab_env(args, &[])
}

/// [`valuelab`] with changes to its environment: `(name, Some(value))` sets a variable,
/// `(name, None)` removes it.
pub fn valuelab_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_valuelab"));
    command
        .args(args)
        .env("VALUELAB_DATA_DIR", data_dir())
        .env("RAYON_NUM_THREADS", "1");
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("the valuelab binary runs")
}

/// The job spec `valuelab --print-spec ARGS...` prints (the command must succeed).
pub fn print_spec(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--print-spec"];
    all.extend_from_slice(args);
    let output = valuelab(&all);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a JSON job spec")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}
