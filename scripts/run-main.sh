#!/usr/bin/env bash
# The main job on a fresh machine, on the embedded defaults (SmolLM2-135M-Instruct, the shared
# research data): installs the model, builds valuelab, then runs a small real study end to end —
# prompt baselines on PVQ-40 and ValueNet (expect mode) for target groups spread over the value
# space, one VIM injection for one group on a CPU-sized training budget, that adapter's
# evaluation, and the report — printing the time of each stage.
#
#   scripts/run-main.sh                 # 8 groups, 100 ValueNet scenarios, 40 training steps
#   STUDY_GROUPS=128 VALUENET_ITEMS=500 TRAIN_STEPS=0 scripts/run-main.sh   # everything (0 = full epochs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STUDY_GROUPS="${STUDY_GROUPS:-8}"
VALUENET_ITEMS="${VALUENET_ITEMS:-100}"
TRAIN_STEPS="${TRAIN_STEPS:-40}"
VIM_GROUP="${VIM_GROUP:-Group_60}"
OUT="${OUT:-runs/study}"
export VALUELAB_DATA_DIR="${VALUELAB_DATA_DIR:-$(cd .. && pwd)/shared/data}"

started=$SECONDS
stage() { echo; echo "==> $* (at $((SECONDS - started)) s)"; }

stage "install the model"
scripts/install-model.sh
stage "build (release)"
cargo build --release -p valuelab-server
valuelab=target/release/valuelab
"$valuelab" data check

mkdir -p "$OUT"
for method in base prompt-short prompt-long prompt-dominant; do
    stage "PVQ-40, $method, $STUDY_GROUPS groups"
    "$valuelab" eval pvq --method "$method" --sample-groups "$STUDY_GROUPS" --out "$OUT/pvq-$method"
    stage "ValueNet, $method, $STUDY_GROUPS groups, $VALUENET_ITEMS scenarios"
    "$valuelab" eval valuenet --method "$method" --sample-groups "$STUDY_GROUPS" --limit-items "$VALUENET_ITEMS" \
        --out "$OUT/valuenet-$method"
done

budget=()
if [[ "$TRAIN_STEPS" != 0 ]]; then
    # 200 examples also caps validation, which otherwise runs all 1,631 examples (~11 min on 2 cores).
    budget=(--max-steps "$TRAIN_STEPS" --max-examples 200)
    echo "VIM training budget: $TRAIN_STEPS optimizer steps on 200 examples (a CPU budget, far below the paper's 5 epochs)"
fi
stage "VIM injection for $VIM_GROUP"
"$valuelab" train --group "$VIM_GROUP" --method vim "${budget[@]}" --out "$OUT/adapter-$VIM_GROUP"
stage "PVQ-40 and ValueNet with the adapter"
"$valuelab" eval pvq --method vim --group "$VIM_GROUP" --adapter "$OUT/adapter-$VIM_GROUP" --out "$OUT/pvq-vim"
"$valuelab" eval valuenet --method vim --group "$VIM_GROUP" --adapter "$OUT/adapter-$VIM_GROUP" \
    --limit-items "$VALUENET_ITEMS" --out "$OUT/valuenet-vim"

stage "the untouched model on $VIM_GROUP, the adapter's reference"
"$valuelab" eval pvq --method base --group "$VIM_GROUP" --out "$OUT/$VIM_GROUP/pvq-base"
"$valuelab" eval valuenet --method base --group "$VIM_GROUP" --limit-items "$VALUENET_ITEMS" \
    --out "$OUT/$VIM_GROUP/valuenet-base"

stage "report"
"$valuelab" report "$OUT"/pvq-* "$OUT"/valuenet-* --out "$OUT/report"
# The adapter against the same model without it, on its own group: a lower NMSE than the
# 8-group rows can come from the group alone.
"$valuelab" report "$OUT/$VIM_GROUP"/* "$OUT/pvq-vim" "$OUT/valuenet-vim" --out "$OUT/report-$VIM_GROUP"
stage "done: tables and plots in $OUT/report and $OUT/report-$VIM_GROUP"
