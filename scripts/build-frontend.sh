#!/usr/bin/env bash
# Builds the web app bundle into static/pkg, where `valuelab serve` serves it:
# cargo builds the wasm, wasm-bindgen-cli (installed on first use, ~4 min) writes the JS glue.
# Not part of CI: the test command only checks that the wasm compiles.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The CLI must match the wasm-bindgen crate version in Cargo.lock exactly.
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
[[ -n "$version" ]] || { echo "build-frontend: wasm-bindgen not found in Cargo.lock" >&2; exit 1; }

if [[ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$version" ]]; then
    echo "build-frontend: installing wasm-bindgen-cli $version"
    cargo install wasm-bindgen-cli --version "$version" --locked ||
        cargo install wasm-bindgen-cli --version "$version"
fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo build -p valuelab-frontend --target wasm32-unknown-unknown --release
target_dir="${CARGO_TARGET_DIR:-target}"
wasm-bindgen --target web --no-typescript --out-dir static/pkg --out-name valuelab_frontend \
    "$target_dir/wasm32-unknown-unknown/release/valuelab-frontend.wasm"
echo "build-frontend: bundle in static/pkg; start the server with: cargo run --release -p valuelab-server -- serve"
