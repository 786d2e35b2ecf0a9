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
printf '%s' "$out" | python3 tests/bench/bench_summary.py
