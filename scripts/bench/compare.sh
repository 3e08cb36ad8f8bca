#!/usr/bin/env bash
# One run, one table: `valuelab bench --json`, then the PyTorch + PEFT and llama.cpp peers on the
# same GGUF with the same settings (each reads them from valuelab's report: --like), then the
# ratios valuelab / peer (scripts/bench/ratio_table.py), also written to $OUT/compare.md.
# A peer whose Python packages are missing is skipped with a note; docs/performance.md says how
# to install them (they are kept out of CI: PyPI's torch stack is several GB).
#
#   scripts/bench/compare.sh                                   # 2 threads, the embedded model
#   THREADS=4 OUT=runs/bench scripts/bench/compare.sh --repeats 7   # arguments go to valuelab bench
#   PEER_PYTHON=/tmp/bench-venv/bin/python                     # the Python that has the peers
#   VALUELAB=target/release/valuelab                           # the binary to measure
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

THREADS="${THREADS:-2}"
OUT="${OUT:-runs/bench}"
PEER_PYTHON="${PEER_PYTHON:-python3}"
VALUELAB="${VALUELAB:-target/release/valuelab}"

if [[ ! -x "$VALUELAB" ]]; then
    echo "compare.sh: $VALUELAB does not exist: build it with cargo build --release -p valuelab-server (or set VALUELAB)" >&2
    exit 2
fi
mkdir -p "$OUT"
echo "==> valuelab bench ($THREADS threads)" >&2
RAYON_NUM_THREADS="$THREADS" VALUELAB_THREADS="$THREADS" "$VALUELAB" bench --json "$OUT/valuelab.json" "$@" >&2

reports=("$OUT/valuelab.json")
for peer in torch llamacpp; do
    case "$peer" in
        torch) needs="torch, transformers, peft, gguf" ;;
        llamacpp) needs="llama_cpp" ;;
    esac
    if ! "$PEER_PYTHON" -c "import ${needs}" 2>/dev/null; then
        echo "compare.sh: skipping the $peer peer: $PEER_PYTHON cannot import ${needs} (set PEER_PYTHON; docs/performance.md)" >&2
        continue
    fi
    echo "==> $peer peer" >&2
    "$PEER_PYTHON" "scripts/bench/${peer}_peer.py" --like "$OUT/valuelab.json" > "$OUT/$peer.json"
    reports+=("$OUT/$peer.json")
done
python3 scripts/bench/ratio_table.py "${reports[@]}" | tee "$OUT/compare.md"
