#!/usr/bin/env bash
# Mean ± sample std over seeds of every multi-seed config in a results table
# written by `datafree quantize` (rows "| NAME_sK | ... | top-1 | delta | ..."),
# printed as a markdown table. Usage: bash results/summarize_dfq.sh [TABLE.md]
table=${1:-$(dirname "$0")/dfq_resnet20_fmnist.md}
awk -F'|' '
  $2 ~ /_s[0-9]+ *$/ {
    name = $2; gsub(/ /, "", name); sub(/_s[0-9]+$/, "", name)
    acc = $8 + 0; d = $9 + 0
    n[name]++; s[name] += acc; ss[name] += acc * acc; sd[name] += d
    if (!(name in m)) { order[++k] = name; m[name] = $3; b[name] = $4 }
  }
  END {
    print "| config | method | bits | seeds | top-1 % (mean ± std) | Δ vs teacher (pt, mean) |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= k; i++) {
      x = order[i]; mean = s[x] / n[x]
      v = n[x] > 1 ? (ss[x] - n[x] * mean * mean) / (n[x] - 1) : 0; if (v < 0) v = 0
      printf "| %s |%s|%s| %d | %.2f ± %.2f | %+.2f |\n", x, m[x], b[x], n[x], mean, sqrt(v), sd[x] / n[x]
    }
  }' "$table"
