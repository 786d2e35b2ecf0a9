#!/usr/bin/env bash
# Runs (or resumes) every row of results/autorecon_resnet20_fmnist.md: the
# generator searches first (their genotypes are copied to results/autorecon/
# and committed), then the quantization rows, most informative first. A
# finished row (result.json present) is skipped, an unfinished one resumes
# from its checkpoint. Safe to stop and start again at any time.
#   [DATAFREE_THREADS=T] bash results/run_autorecon_table.sh [NAME_PATTERN]    e.g.  'ar_w3a3_*'
# The GDFQ-generator rows at ResNet-20 w4a4/w3a3 are the data-free table's
# (results/dfq_resnet20_fmnist.md, same budget and protocol).
set -u
cd "$(dirname "$0")/.."
BIN=${DATAFREE_BIN:-build/datafree}
pat=${1:-*}
THREADS=${DATAFREE_THREADS:+--threads $DATAFREE_THREADS}   # e.g. DATAFREE_THREADS=1 beside another run
mkdir -p results/autorecon
for s in resnet20 vgg_small; do
  case "search_$s" in $pat) ;; *) continue ;; esac
  dir=results/runs/autorecon/search_$s
  # a committed genotype is the search's result: do not search again
  [ -f "results/autorecon/genotype_$s.json" ] && [ ! -f "$dir/genotype.json" ] && continue
  if [ ! -f "$dir/genotype.json" ]; then
    echo "== search_$s"; "$BIN" search "configs/autorecon/search_$s.json" --resume $THREADS || exit 1
  fi
  for f in genotype.json alpha.svg generator.dot metrics.jsonl result.json; do
    [ -f "$dir/$f" ] && cp "$dir/$f" "results/autorecon/${f%.*}_$s.${f##*.}"
  done
done
order="ar_w4a4_s1 ar_w3a3_s1 ar_w3a3_s2 ar_w3a3_s3 ar_w4a4_s2 ar_w4a4_s3 ar_vgg_w4a4_s1 gdfq_vgg_w4a4_s1
       ar_w4a4_scale0.5 gdfq_w4a4_scale0.5 ar_w4a4_scale2 gdfq_w4a4_scale2"
for name in $order; do
  case "$name" in $pat) ;; *) continue ;; esac
  [ -f "results/runs/autorecon/$name/result.json" ] && continue
  echo "== $name"
  "$BIN" quantize "configs/autorecon/$name.json" --resume $THREADS || exit 1
done
