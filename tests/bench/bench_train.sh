#!/usr/bin/env bash
# ResNet-20, batch 128, 1x28x28: datafree vs PyTorch (Debian python3-torch),
# measured in the same run, alternating, best of ROUNDS for each. Prints
# both JSON results and the ratios. Usage: tests/bench/bench_train.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
BIN=${DATAFREE_BIN:-build/datafree}
PY=${PYTHON:-/usr/bin/python3}
best() { python3 -c "import json,sys; rs=[json.loads(l) for l in sys.stdin if l.strip()]; print(json.dumps(max(rs, key=lambda r: r['train_images_per_s'])))"; }
ours=""; theirs=""
for r in $(seq "$ROUNDS"); do
  ours+=$("$BIN" bench --model resnet20 --batch 128 --input 1x28x28 --threads 2 --steps 20 --warmup 3 --json)$'\n'
  theirs+=$("$PY" tests/bench/torch_resnet20.py 128 20 3 2)$'\n'
done
o=$(printf '%s' "$ours" | best); t=$(printf '%s' "$theirs" | best)
oi=$(printf '%s' "$ours" | python3 -c "import json,sys; print(max(json.loads(l)['infer_images_per_s'] for l in sys.stdin if l.strip()))")
ti=$(printf '%s' "$theirs" | python3 -c "import json,sys; print(max(json.loads(l)['infer_images_per_s'] for l in sys.stdin if l.strip()))")
echo "datafree: $o"
echo "pytorch:  $t"
python3 - "$o" "$t" "$oi" "$ti" <<'PYEOF'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
oi, ti = float(sys.argv[3]), float(sys.argv[4])
print(f"train     {o['train_images_per_s']:8.1f} vs {t['train_images_per_s']:8.1f} img/s  ratio {o['train_images_per_s']/t['train_images_per_s']:.2f}x")
print(f"inference {oi:8.1f} vs {ti:8.1f} img/s  ratio {oi/ti:.2f}x")
print(f"peak RSS  {o['peak_rss_mib']:8.0f} vs {t['peak_rss_mib']:8.0f} MiB")
PYEOF
