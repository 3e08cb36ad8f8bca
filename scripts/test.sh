#!/usr/bin/env bash
# valuelab's test command (README; CI runs it verbatim from .ci/run):
# every test of the workspace, the API tests again on PostgreSQL when VALUELAB_TEST_POSTGRES_URL
# names a server, the wasm32 build of the shared core, the web app's bundle, and the browser
# tests in headless Chromium (/usr/bin/chromium, or $CHROMIUM).
# Lints (fmt, clippy) are in scripts/lint.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Research data: the shared copy beside the clone unless the caller chose another.
if [[ -z "${VALUELAB_DATA_DIR:-}" ]]; then
    VALUELAB_DATA_DIR="$(cd .. && pwd)/shared/data"
fi
export VALUELAB_DATA_DIR
if [[ ! -d "$VALUELAB_DATA_DIR" ]]; then
    echo "test.sh: warning: data directory $VALUELAB_DATA_DIR does not exist; tests that read the research data will fail (set VALUELAB_DATA_DIR)" >&2
fi
# Test binaries run in parallel; model tests with a full rayon pool each oversubscribe the cores
# and slow candle down many times over (ENGINE-NOTES trap 4).
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}"

started=$SECONDS
stage() {
    echo
    echo "==> $* (at $((SECONDS - started)) s)"
}

stage "model (scripts/install-model.sh)"
scripts/install-model.sh

stage "cargo test (data: $VALUELAB_DATA_DIR)"
cargo test

# The same API suite on PostgreSQL, each test in a database of its own on this server (the
# user must be allowed to create databases). .ci/run starts a server and sets the URL.
if [[ -n "${VALUELAB_TEST_POSTGRES_URL:-}" ]]; then
    stage "API tests on PostgreSQL ($(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$VALUELAB_TEST_POSTGRES_URL"))"
    VALUELAB_TEST_BACKEND=postgres cargo test -p valuelab-tests --test api
else
    stage "API tests on PostgreSQL: SKIPPED (VALUELAB_TEST_POSTGRES_URL is not set; .ci/run sets it)"
fi

stage "wasm32 build of valuelab-common"
cargo build -p valuelab-common --target wasm32-unknown-unknown

stage "web app bundle (scripts/build-frontend.sh)"
scripts/build-frontend.sh

stage "browser tests (headless Chromium, tests/e2e)"
# The binaries the browser test starts: valuelab (serve, user add) and the fixture writer.
cargo build -p valuelab-server -p valuelab-tests --bins
if [[ ! -d tests/e2e/node_modules/playwright-core ]]; then
    npm ci --prefix tests/e2e --no-audit --no-fund
fi
node --test tests/e2e/
echo "screenshots: tests/e2e/screenshots/"

stage "all tests passed"
