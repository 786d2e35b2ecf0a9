#!/usr/bin/env bash
# ResNet-20, batch 128, 1x28x28: datafree vs PyTorch (Debian python3-torch,
# 2 threads), measured in the same run. Each round runs both back to back;
# the ratio of a round compares runs seconds apart, and the median over
# rounds is what to quote (this machine's speed drifts by 10 % or more
# between minutes). Usage: tests/bench/bench_train.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
BIN=${DATAFREE_BIN:-build/datafree}
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)"; exit 2; }
out=""
for r in $(seq "$ROUNDS"); do
  o=$("$BIN" bench --model resnet20 --batch 128 --input 1x28x28 --threads 2 --steps 20 --warmup 3 --json)
  t=$("$PY" tests/bench/torch_resnet20.py 128 20 3 2)
  out+="$o"$'\t'"$t"$'\n'
done
printf '%s' "$out" | python3 -c '
import json, statistics, sys
rows = [tuple(json.loads(p) for p in l.split("\t")) for l in sys.stdin if l.strip()]
print("round  datafree train/infer img/s   pytorch train/infer img/s   ratios")
tr, ir = [], []
for i, (o, t) in enumerate(rows, 1):
    a = o["train_images_per_s"] / t["train_images_per_s"]; b = o["infer_images_per_s"] / t["infer_images_per_s"]
    tr.append(a); ir.append(b)
    print(f"{i:5d}  {o[\"train_images_per_s\"]:8.1f} / {o[\"infer_images_per_s\"]:8.1f}      {t[\"train_images_per_s\"]:8.1f} / {t[\"infer_images_per_s\"]:8.1f}      {a:.2f}x / {b:.2f}x")
o, t = rows[-1]
print(f"median ratio: training {statistics.median(tr):.2f}x, inference {statistics.median(ir):.2f}x "
      f"(min {min(tr):.2f}x / {min(ir):.2f}x, max {max(tr):.2f}x / {max(ir):.2f}x over {len(rows)} rounds)")
print(f"peak RSS of the training step: datafree {o[\"peak_rss_mib\"]:.0f} MiB, pytorch {t[\"peak_rss_mib\"]:.0f} MiB")
'
