#!/usr/bin/env bash
# Runs (or resumes) every row of results/addernet_fmnist.md and rewrites the
# table from what has finished: CNN ResNet-20, AddResNet-20 and
# DS-AddResNet-20 trained with one budget (configs/addernet/*.json: 15 epochs,
# SGD 0.1 cosine, batch 128, the teacher recipe shortened), then the 8-bit
# integer AddResNet-20 (power-of-two scales) calibrated, and fine-tuned by KD
# from its float version, each evaluated through the integer interpreter.
# A finished run is skipped, an unfinished one continues from its checkpoint.
#   bash results/run_addernet_table.sh [train|int8|table]   (default: all)
set -u
cd "$(dirname "$0")/.."
BIN=${DATAFREE_BIN:-build/datafree}
DATA=/usr/share/datasets/fashion-mnist
what=${1:-all}
R=results/runs/addernet
if [ "$what" = all ] || [ "$what" = train ]; then
  for m in resnet20 addresnet20 ds_addresnet20; do
    [ -f results/models/addernet_$m.json ] && continue
    echo "== train $m"
    if [ -f $R/$m/ckpt.safetensors ]; then
      "$BIN" train configs/addernet/$m.json --resume || exit 1
    else
      "$BIN" train configs/addernet/$m.json || exit 1
    fi
  done
fi
if [ "$what" = all ] || [ "$what" = int8 ]; then
  for v in ptq qat; do
    [ -f results/models/addernet_addresnet20.json ] || break
    d=$R/int8_addresnet20_$v
    if [ ! -f $d/result.json ]; then
      echo "== quantize int8_addresnet20_$v"
      "$BIN" quantize configs/addernet/int8_addresnet20_$v.json --resume || exit 1
    fi
    if [ ! -f $d/integer.json ]; then
      "$BIN" eval --model $d/model.json --data $DATA --integer --json > $d/integer.json.tmp && mv $d/integer.json.tmp $d/integer.json
    fi
  done
fi
# the table, from the finished runs
/usr/bin/python3 - <<'PY'
import json, os, subprocess
R = "results/runs/addernet"
BIN = os.environ.get("DATAFREE_BIN", "build/datafree")
def last(path):
    try:
        return [json.loads(l) for l in open(path)][-1]
    except (OSError, IndexError):
        return None
def inspect(model):
    try:
        out = subprocess.run([BIN, "inspect", model, "--json"], capture_output=True, text=True, check=True).stdout
        return json.loads(out)
    except Exception:
        return {}
rows, base = [], {}
for m, label in [("resnet20", "CNN ResNet-20"), ("addresnet20", "AddResNet-20"), ("ds_addresnet20", "DS-AddResNet-20")]:
    met = last(f"results/models/addernet_{m}_metrics.jsonl")
    if not met:
        rows.append(f"| {label} | not run yet | | | | | `datafree train configs/addernet/{m}.json` |")
        continue
    ins = inspect(f"results/models/addernet_{m}.json")
    acc = 100 * met["test_acc"]
    base[m] = acc
    secs = sum(json.loads(l).get("epoch_seconds", 0) for l in open(f"results/models/addernet_{m}_metrics.jsonl"))
    rows.append(f"| {label} | {acc:.2f} | {ins.get('params', 0):,} | {ins.get('macs', 0) / 1e6:.1f} M | "
                f"{ins.get('adds', 0) / 1e6:.1f} M | {secs / 60:.0f} min | `datafree train configs/addernet/{m}.json` |")
for v, label in [("ptq", "8-bit integer AddResNet-20, calibration"), ("qat", "8-bit integer AddResNet-20, KD fine-tuning")]:
    d = f"{R}/int8_addresnet20_{v}"
    try:
        ij = json.load(open(f"{d}/integer.json"))
        rj = json.load(open(f"{d}/result.json"))
    except OSError:
        rows.append(f"| {label} | not run yet | | | | | `datafree quantize configs/addernet/int8_addresnet20_{v}.json` |")
        continue
    ia = 100 * ij["integer_accuracy"]
    fa = 100 * ij["fake_quant_accuracy"]
    rows.append(f"| {label} | {ia:.2f} (fake-quant {fa:.2f}, agreement {100 * ij['top1_agreement']:.2f} %) | | | | "
                f"{rj.get('run_seconds', 0) / 60:.0f} min | `datafree quantize configs/addernet/int8_addresnet20_{v}.json`, "
                f"then `datafree eval --model {d}/model.json --data <FMNIST> --integer` |")
with open("results/addernet_fmnist.md.tmp", "w") as f:
    f.write("# AdderNet on Fashion-MNIST\n\n"
            "Written by `bash results/run_addernet_table.sh` from the finished runs (10,000 real test images).\n"
            "Same budget for the three float rows: 15 epochs, SGD lr 0.1 momentum 0.9 cosine, weight decay\n"
            "5e-4, batch 128, crop-pad 2 + flip, seed 1 (one seed each); adder layers with the reference\n"
            "code's adaptive learning rate (eta 0.2). MACs are multiply-accumulates of the conv/linear\n"
            "layers, adds the adder layers' additions (a subtraction and an accumulation per tap, the seeds'\n"
            "convention), per image. The 8-bit rows: weights and activations on power-of-two per-tensor\n"
            "grids (seed 002; the adder weights always per tensor), BN folded into the integer\n"
            "requantisation after each |x - w| sum, accuracy of the integer interpreter\n"
            "(`compress/lower.h`), bit-exact with the exported C and HLS code.\n\n"
            "| model | top-1 % | params | MACs | adds | wall | command |\n|---|---|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n")
    if "resnet20" in base and "addresnet20" in base:
        f.write(f"\nAddResNet-20 vs CNN: {base['addresnet20'] - base['resnet20']:+.2f} pt (bar: within 1.0).")
    if "resnet20" in base and "ds_addresnet20" in base:
        f.write(f" DS-AddResNet-20 vs CNN: {base['ds_addresnet20'] - base['resnet20']:+.2f} pt (bar: within 3.0).")
    f.write("\n")
os.replace("results/addernet_fmnist.md.tmp", "results/addernet_fmnist.md")
print(open("results/addernet_fmnist.md").read())
PY
