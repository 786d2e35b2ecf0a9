#!/usr/bin/env bash
# Runs (or resumes) every row of results/dfq_resnet20_fmnist.md, cheapest
# first; a finished run (result.json present) is skipped, an unfinished one
# continues from its checkpoint. Safe to stop and start again at any time.
#   bash results/run_dfq_table.sh [NAME_PATTERN]    e.g.  'gdfq_w4a4_*'
set -u
cd "$(dirname "$0")/.."
BIN=${DATAFREE_BIN:-build/datafree}
pat=${1:-*}
order="gdfq_w4a4_s1 ptq_w8a8 ptq_w6a6 ptq_w5a5 ptq_w4a4 ptq_w3a3 real_w4a4 zeroq_distill zeroq_w4a4
       gdfq_w3a3_s1 gdfq_w6a6_s1 real_w3a3 zeroq_w3a3 gdfq_w4a4_s2 gdfq_w4a4_s3 gdfq_w3a3_s2 gdfq_w3a3_s3
       gdfq_w8a8_s1 gdfq_w5a5_s1 real_w8a8 real_w6a6 real_w5a5 zeroq_w8a8 zeroq_w6a6 zeroq_w5a5"
for name in $order; do
  case "$name" in $pat) ;; *) continue ;; esac
  dir=results/runs/dfq/$name
  if [ "$name" = zeroq_distill ]; then
    [ -f "$dir/dataset.safetensors" ] && continue
    echo "== $name"; "$BIN" reconstruct "configs/dfq/$name.json" --resume || exit 1
    continue
  fi
  [ -f "$dir/result.json" ] && continue
  # GDFQ seed 1 and the PTQ row of the same bits share their first 4 epochs
  # exactly (same seed, generator warm-up and calibration; the student is not
  # updated yet): start from the PTQ run's epoch-4 checkpoint, with its metrics.
  ptq=results/runs/dfq/ptq_${name#gdfq_}; ptq=${ptq%_s1}
  if [[ $name == gdfq_*_s1 ]] && [ ! -f "$dir/ckpt.safetensors" ] && [ -f "$ptq/result.json" ] &&
     [ -f "$ptq/ckpt.safetensors" ]; then
    mkdir -p "$dir"
    cp "$ptq/ckpt.safetensors" "$dir/ckpt.safetensors"
    grep -E '"epoch":[1-4],' "$ptq/metrics.jsonl" > "$dir/metrics.jsonl"
    echo "== $name: epochs 1-4 from $ptq (identical computation)"
  fi
  echo "== $name"
  "$BIN" quantize "configs/dfq/$name.json" --resume || exit 1
done
