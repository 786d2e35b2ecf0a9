#!/usr/bin/env bash
# Stages the table's run folders for a commit: the small files of every run,
# and the checkpoint of unfinished ones (so a later session resumes them).
# Models are committed separately (results/models/).
cd "$(dirname "$0")/.."
for d in results/runs/dfq/*/; do
  for f in config.json metrics.jsonl result.json table.md grid.png; do
    [ -f "$d$f" ] && git add -f "$d$f"
  done
  if [ ! -f "$d/result.json" ] && [ -f "$d/ckpt.safetensors" ]; then git add -f "$d/ckpt.safetensors"; fi
  if [ -f "$d/result.json" ]; then git rm -q --cached --ignore-unmatch "$d/ckpt.safetensors"; fi
done
git add results/dfq_resnet20_fmnist.md
