"""Summarises tests/bench/bench_train.sh rounds: one line per round (datafree
JSON, a tab, PyTorch JSON) on stdin; prints per-round and median ratios."""
import json
import statistics
import sys

rows = [tuple(json.loads(p) for p in line.split("\t")) for line in sys.stdin if line.strip()]
print("round  datafree train / infer img/s   pytorch train / infer img/s   ratio train / infer")
tr, ir = [], []
for i, (o, t) in enumerate(rows, 1):
    a = o["train_images_per_s"] / t["train_images_per_s"]
    b = o["infer_images_per_s"] / t["infer_images_per_s"]
    tr.append(a)
    ir.append(b)
    print("%5d  %8.1f / %8.1f           %8.1f / %8.1f           %.2fx / %.2fx"
          % (i, o["train_images_per_s"], o["infer_images_per_s"], t["train_images_per_s"], t["infer_images_per_s"], a, b))
print("median ratio: training %.2fx, inference %.2fx (min %.2fx / %.2fx, max %.2fx / %.2fx over %d rounds)"
      % (statistics.median(tr), statistics.median(ir), min(tr), min(ir), max(tr), max(ir), len(rows)))
o, t = rows[-1]
print("peak RSS of the training step: datafree %.0f MiB, pytorch %.0f MiB" % (o["peak_rss_mib"], t["peak_rss_mib"]))
