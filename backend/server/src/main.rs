//! The `valuelab` binary: a thin shell over `valuelab_server::cli`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = valuelab_server::cli::Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", valuelab_server::cli::hints::render(&err));
            ExitCode::FAILURE
        }
    }
}
