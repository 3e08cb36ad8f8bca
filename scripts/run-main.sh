#!/usr/bin/env bash
# The main job on a fresh machine, on the embedded defaults (SmolLM2-135M-Instruct, the shared
# research data): installs the model, builds valuelab, then runs a small real study end to end —
# prompt baselines on PVQ-40 and ValueNet (expect mode) for target groups spread over the value
# space, one VIM injection for one group on a CPU-sized training budget, that adapter's
# evaluation, and the report — printing the time of each stage. It ends with the web app serving
# a demo annotation study built from the arguments the model generated (prompt-long against the
# VIM adapter on the adapter's group), its address printed.
#
#   scripts/run-main.sh                 # 8 groups, 100 ValueNet scenarios, 40 training steps
#   STUDY_GROUPS=128 VALUENET_ITEMS=500 TRAIN_STEPS=0 scripts/run-main.sh   # everything (0 = full epochs)
#   SERVE=0 scripts/run-main.sh         # stop after the demo study is stored, without serving
#   PORT=8080 HOST=0.0.0.0              # where the app listens (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STUDY_GROUPS="${STUDY_GROUPS:-8}"
VALUENET_ITEMS="${VALUENET_ITEMS:-100}"
TRAIN_STEPS="${TRAIN_STEPS:-40}"
VIM_GROUP="${VIM_GROUP:-Group_60}"
ARGS_ITEMS="${ARGS_ITEMS:-12}"
OUT="${OUT:-runs/study}"
SERVE="${SERVE:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8080}"
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
echo "tables and plots in $OUT/report and $OUT/report-$VIM_GROUP"

# The human evaluation of the paper (§5.2) on this run's own arguments: the stance chosen by
# likelihood, the premise written after a lead-in stating it (eval args, expect mode).
stage "arguments for the demo study: prompt-long and the VIM adapter, $VIM_GROUP, $ARGS_ITEMS conclusions"
"$valuelab" eval args --method prompt-long --group "$VIM_GROUP" --limit-items "$ARGS_ITEMS" \
    --out "$OUT/args-prompt-long"
"$valuelab" eval args --method vim --group "$VIM_GROUP" --adapter "$OUT/adapter-$VIM_GROUP" \
    --limit-items "$ARGS_ITEMS" --out "$OUT/args-vim"

stage "demo annotation study"
# The demo's own database beside its runs; an earlier run's study and judgements are kept.
export VALUELAB_DATABASE_URL="${VALUELAB_DATABASE_URL:-sqlite://$(cd "$OUT" && pwd)/valuelab.db}"
password_file="$OUT/admin-password"
if [[ ! -s "$password_file" ]]; then
    (umask 077 && head -c 12 /dev/urandom | base64 | tr '+/' 'xy' >"$password_file")
    "$valuelab" user add --role admin --username admin <"$password_file"
fi
study_file="$OUT/demo-study.txt"
if [[ ! -s "$study_file" ]]; then
    "$valuelab" study create --name "Demo: prompt-long vs VIM ($VIM_GROUP)" \
        --run-a "$OUT/args-prompt-long" --run-b "$OUT/args-vim" \
        --guidelines docs/guidelines-demo.md --attention-every 5 | tee "$study_file"
else
    echo "the demo study exists (delete $study_file and $OUT/valuelab.db to start over):"
    cat "$study_file"
fi

stage "the runs into the results explorer"
"$valuelab" runs import "$OUT"

stage "web app bundle"
scripts/build-frontend.sh

address="http://$HOST:$PORT"
[[ "$HOST" == 0.0.0.0 ]] && address="http://localhost:$PORT"
study_id="$(sed -n 's/^created study \([0-9]*\).*/\1/p' "$study_file")"
public_link="$(sed -n 's/^  public link (annotators): //p' "$study_file")"
stage "done in $((SECONDS - started)) s"
echo "tables and plots: $OUT/report, $OUT/report-$VIM_GROUP"
echo "runs:             $address/api/runs  (the explorer's list, JSON; admins and members)"
echo "demo study:       $address/studies/$study_id  (log in as admin, password in $password_file)"
echo "annotators:       $address$public_link?PROLIFIC_PID=demo-1  (any id; the same id resumes)"
if [[ "$SERVE" != 0 ]]; then
    exec "$valuelab" serve --host "$HOST" --port "$PORT"
fi
