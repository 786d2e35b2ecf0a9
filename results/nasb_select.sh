#!/bin/bash
# Which NASB search to keep, chosen without the test set (DARTS picks its cell among
# repeated searches the same way): each search's warmed-up NASB network
# (configs/nasb/trials/nasb_warmup_s<seed>.json, every finished one), trained on the
# first data.train_limit training images, scored on the rest, which no stage of the run
# read. Prints each score as it comes and the choice. With --all it goes on to score, for
# comparison only, the chosen network trained again with other seeds
# (nasb_sel_warmup_s<seed>) and the warmed-up Bi-Real seeds. Run from the repository
# root after building; about 25 s per network on 2 cores.
#   bash results/nasb_select.sh [--all] [DATASET]
set -euo pipefail
all=0
[ "${1:-}" = --all ] && { all=1; shift; }
data=${1:-/usr/share/datasets/fashion-mnist}
[ -x ./build/datafree ] || { echo "nasb_select: no ./build/datafree: build first, from the repository root" >&2; exit 1; }
[ -e "$data" ] || { echo "nasb_select: $data: no such dataset" >&2; exit 1; }
T=results/runs/nasb/trials
# acc, n: held-out top-1 (%) and image count of the finished run in folder $1 (its model
# under $2), on the training images past its train_limit; a failed eval stops the script
held_out() {
    local skip out
    skip=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["train_limit"])' "$T/$1/config.json")
    out=$(./build/datafree eval --model "$T/$1/$2/model.json" --data "$data" --split train --skip "$skip" --json)
    read -r acc n < <(python3 -c 'import json,sys; j = json.load(sys.stdin); print("%.2f %d" % (100 * j["accuracy"], j["n"]))' <<<"$out")
}
best= bestacc=
for m in $T/nasb_warmup_s*/v1/finetune/model.json; do
    [ -f "$m" ] || { echo "nasb_select: no finished run (configs/nasb/trials/nasb_warmup_s<seed>.json)" >&2; exit 1; }
    run=${m#$T/}; run=${run%%/*}
    held_out "$run" v1/finetune
    echo "$run: held-out top-1 $acc % ($n training images past its train_limit)"
    if [ -z "$bestacc" ] || python3 -c "import sys; sys.exit(not $acc > $bestacc)"; then best=$run bestacc=$acc; fi
done
echo "chosen: $best's search ($bestacc %)"
[ $all = 1 ] || exit 0
for d in $T/nasb_sel_warmup_s*/v1/finetune $T/bireal_warmup_s*/finetune; do
    [ -f "$d/model.json" ] || continue
    run=${d#$T/}; run=${run%%/*}
    held_out "$run" "${d#$T/$run/}"
    echo "$run (for comparison): held-out top-1 $acc %"
done
