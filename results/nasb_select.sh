#!/bin/bash
# Which of the three NASB searches to keep, chosen without the test set (DARTS picks its
# cell among repeated searches the same way): each search's warmed-up NASB network,
# trained on the first 30,000 training images (data.train_limit), scored on the other
# 30,000, which no stage of any run read. Prints each and the choice; run from the
# repository root after building.
#   bash results/nasb_select.sh [DATASET]
set -euo pipefail
data=${1:-/usr/share/datasets/fashion-mnist}
best= bestacc=0
for s in 1 2 3; do
    m=results/runs/nasb/trials/nasb_warmup_s$s/v1/finetune/model.json
    [ -f "$m" ] || { echo "nasb_select: $m is missing (run configs/nasb/trials/nasb_warmup_s$s.json)" >&2; exit 1; }
    acc=$(./build/datafree eval --model "$m" --data "$data" --split train --skip 30000 --json |
          python3 -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))')
    echo "search nasb_s$s: held-out top-1 $acc % (30,000 training images 30000-59999)"
    if python3 -c "import sys; sys.exit(not $acc > $bestacc)"; then best=$s bestacc=$acc; fi
done
echo "chosen: nasb_s$best's search ($bestacc %)"
