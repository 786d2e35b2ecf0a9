#!/usr/bin/env bash
# Stages the table's run folders for a commit: the small files of every run,
# and the checkpoint of unfinished ones (so a later session resumes them).
# Models are committed separately (results/models/).
cd "$(dirname "$0")/.."
for d in results/runs/dfq/*/; do
  for f in config.json metrics.jsonl result.json table.md grid.png; do
    [ -f "$d$f" ] && git add -f "$d$f"
  done
  done=0
  [ -f "$d/result.json" ] && done=1
  # a finished reconstruction: its dataset is the input of the ZeroQ rows
  if [ -f "$d/dataset.safetensors" ]; then git add -f "$d/dataset.safetensors"; done=1; fi
  if [ $done = 0 ] && [ -f "$d/ckpt.safetensors" ]; then git add -f "$d/ckpt.safetensors"; fi
  if [ $done = 1 ]; then git rm -q --cached --ignore-unmatch "$d/ckpt.safetensors"; fi
done
git add results/dfq_resnet20_fmnist.md
