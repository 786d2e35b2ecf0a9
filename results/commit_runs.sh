#!/usr/bin/env bash
# Stages the results tables' run folders for a commit: the small files of
# every run (any folder under results/runs/ with a metrics.jsonl), and the
# checkpoint of unfinished ones, so that a later session resumes them.
# Checkpoints over 20 MB (NASB supernets) are left out: those stages rerun.
# Models of finished rows are committed separately (results/models/: the
# median seed's).
cd "$(dirname "$0")/.."
find results/runs -name metrics.jsonl -o -name dataset.safetensors | while read -r f; do
  d=$(dirname "$f")/
  for x in config.json stage.json metrics.jsonl progress.jsonl result.json integer.json export.json estimate.json table.md grid.png \
           genotype.json genotype_v1.json genotype_v2.json genotype_v3.json genotype_v4.json genotype_v5.json alpha.jsonl alpha.svg; do
    [ -f "$d$x" ] && git add -f "$d$x"
  done
  for x in "$d"*.dot "$d"*.svg; do [ -f "$x" ] && git add -f "$x"; done
  done=0
  [ -f "$d/result.json" ] && done=1
  [ -f "$d/model.json" ] && done=1                          # a finished training run
  if ls "$d"genotype_v*.json >/dev/null 2>&1; then          # a finished NASB search
    done=1
    # the run's own config (the search's settings as run; the table reads its alpha rate)
    [ -f "$d../config.json" ] && git add -f "$d../config.json"
  fi
  # a finished reconstruction: its dataset is the input of the ZeroQ rows
  if [ -f "$d/dataset.safetensors" ]; then git add -f "$d/dataset.safetensors"; done=1; fi
  if [ $done = 1 ]; then
    git rm -q --cached --ignore-unmatch "$d/ckpt.safetensors"
    # a finished NASB stage's model: the next stage starts from it, and its
    # presence is what marks the stage done (about 1-5 MB each); the
    # full-precision rows' models, so that datafree eval reproduces them
    # (all of them: the table counts a seed, and datafree inspect prices it, by
    # its model; without one a fresh clone's table drops the seed and reruns it)
    case "$d" in results/runs/nasb/*/pretrain/|results/runs/nasb/*/finetune/|results/runs/nasb/fp_resnet20*/|results/runs/nasb/trials/fp_resnet20*/)
      git add -f "$d/model.json" "$d/model.safetensors" ;;
    esac
  elif [ -f "$d/ckpt.safetensors" ] && [ "$(stat -c %s "$d/ckpt.safetensors")" -lt 20000000 ]; then
    git add -f "$d/ckpt.safetensors"
    # a generator trained on during the run (source.update): its state goes with the run's
    [ -f "$d/generator_ckpt.safetensors" ] && git add -f "$d/generator_ckpt.safetensors"
  fi
  [ $done = 1 ] && git rm -q --cached --ignore-unmatch "$d/generator_ckpt.safetensors"
done
# the generator the data-free NASB rows draw from: their input, kept so a
# fresh clone reruns them on the same one instead of reconstructing it
for x in generator.json generator.safetensors; do
  [ -f "results/runs/nasb/generator/$x" ] && git add -f "results/runs/nasb/generator/$x"
done
git add results/dfq_resnet20_fmnist.md
for t in results/addernet_fmnist.md results/nasb_fmnist.md; do [ -f "$t" ] && git add "$t"; done
for f in results/models/addernet_*; do [ -f "$f" ] && git add -f "$f"; done
exit 0
