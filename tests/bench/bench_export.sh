#!/usr/bin/env bash
# Exported integer C (`datafree export --target c`) against PyTorch float32
# inference of the same ResNet-20 architecture (Debian's python3-torch),
# measured back to back in each round, at 1 and 2 threads. PyTorch runs at
# batch 128 (its best throughput; the C code runs one image at a time per
# thread) and, at 1 thread, also at batch 1; the ratio quoted is against the
# faster PyTorch number.
# Usage: tests/bench/bench_export.sh [ROUNDS] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
MODEL=${2:-results/models/gdfq_w4a4_s1.json}
BIN=${DATAFREE_BIN:-build/datafree}
PY=${PYTHON:-/usr/bin/python3}
DATA=/usr/share/datasets/fashion-mnist
"$PY" -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)"; exit 2; }
out=$(mktemp -d)
"$BIN" export --model "$MODEL" --target c --out "$out" >/dev/null
make -s -C "$out/c"
for t in 1 2; do
  for r in $(seq "$ROUNDS"); do
    c=$("$out/c/infer" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" --threads "$t")
    if [ "$t" = 1 ]; then p1=$("$PY" tests/bench/torch_infer.py 1 500 1); else p1='{"images_per_s": 0}'; fi
    p128=$("$PY" tests/bench/torch_infer.py 128 10240 "$t")
    "$PY" - "$c" "$p1" "$p128" "$t" <<'PY'
import json, sys
c, p1, p128 = (json.loads(a) for a in sys.argv[1:4])
best = max(p1["images_per_s"], p128["images_per_s"])
print(f"threads {sys.argv[4]}: exported C {c['images_per_s']:.0f} img/s (accuracy {c['accuracy']:.4f}); "
      f"PyTorch float32 batch 128 {p128['images_per_s']:.0f} img/s"
      + (f", batch 1 {p1['images_per_s']:.0f}" if p1['images_per_s'] else "") + "; "
      f"ratio {c['images_per_s'] / best:.2f}x")
PY
  done
done
rm -rf "$out"
