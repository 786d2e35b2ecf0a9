#!/bin/bash
# Which NASB search to keep, chosen without the test set (DARTS picks its cell among
# repeated searches the same way): each search's warmed-up NASB network
# (configs/nasb/trials/nasb_warmup_s<seed>.json, every finished one), trained on the
# first 30,000 training images (data.train_limit), scored on the other 30,000, which no
# stage of any run read. Prints each and the choice; run from the repository root after
# building.
#   bash results/nasb_select.sh [DATASET]
set -euo pipefail
data=${1:-/usr/share/datasets/fashion-mnist}
best= bestacc=0
for m in results/runs/nasb/trials/nasb_warmup_s*/v1/finetune/model.json; do
    [ -f "$m" ] || { echo "nasb_select: no finished run (configs/nasb/trials/nasb_warmup_s<seed>.json)" >&2; exit 1; }
    run=${m#results/runs/nasb/trials/}; run=${run%%/*}
    acc=$(./build/datafree eval --model "$m" --data "$data" --split train --skip 30000 --json |
          python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))')
    echo "$run: held-out top-1 $acc % (training images 30000-59999)"
    if python3 -c "import sys; sys.exit(not $acc > $bestacc)"; then best=$run bestacc=$acc; fi
done
echo "chosen: $best's search ($bestacc %)"
