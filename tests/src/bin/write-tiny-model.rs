//! `write-tiny-model PATH`: writes the engine's random tiny Llama as a GGUF file, so the browser
//! tests can launch real jobs that finish in seconds.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: write-tiny-model PATH.gguf");
        return ExitCode::FAILURE;
    };
    match valuelab_engine::models::testing::write_random_tiny_gguf(Path::new(&path), 7) {
        Ok(()) => {
            println!("{path}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("write-tiny-model: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
