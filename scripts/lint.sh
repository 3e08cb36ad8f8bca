#!/usr/bin/env bash
# Lint gates (not part of the test command, to keep CI short): formatting, and clippy with
# warnings denied on the host workspace and on the wasm32 web app.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p valuelab-common -p valuelab-frontend --target wasm32-unknown-unknown -- -D warnings
