#!/usr/bin/env bash
# Runs (or resumes) every row of results/addernet_fmnist.md and rewrites the
# table from what has finished: CNN ResNet-20, AddResNet-20 and
# DS-AddResNet-20 trained with one budget (configs/addernet/*.json: 15 epochs,
# SGD 0.1 cosine, batch 128, the teacher recipe shortened), then the 8-bit
# integer AddResNet-20 (power-of-two scales) calibrated, and fine-tuned by KD
# from its float version, each evaluated through the integer interpreter, and
# exported to C and HLS: both programs run on the 10,000 test images and their
# int32 logits are compared byte for byte with the interpreter's (export.json,
# and the HLS resource estimate as estimate.json, in the run folder).
# The 8-bit rows need only AddResNet-20, so they run before DS-AddResNet-20.
# A finished run is skipped, an unfinished one continues from its checkpoint.
#   bash results/run_addernet_table.sh [train|int8|export|table]   (default: all)
set -u
cd "$(dirname "$0")/.."
BIN=${DATAFREE_BIN:-build/datafree}
DATA=/usr/share/datasets/fashion-mnist
what=${1:-all}
R=results/runs/addernet
train() {
  for m in "$@"; do
    [ -f results/models/addernet_$m.json ] && continue
    echo "== train $m"
    if [ -f $R/$m/ckpt.safetensors ]; then
      "$BIN" train configs/addernet/$m.json --resume || exit 1
    else
      "$BIN" train configs/addernet/$m.json || exit 1
    fi
  done
}
int8() {
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
    # the committed copy for `datafree eval` (MODEL.safetensors sits beside MODEL.json)
    m=results/models/addernet_int8_addresnet20_$v
    if [ ! -f $m.json ]; then
      cp $d/model.safetensors $m.safetensors.tmp && mv $m.safetensors.tmp $m.safetensors
      cp $d/model.json $m.json.tmp && mv $m.json.tmp $m.json
    fi
  done
}
export_int8() {
  for v in qat ptq; do  # the fine-tuned row first: each HLS C simulation takes about 10 min
    d=$R/int8_addresnet20_$v
    [ -f $d/integer.json ] || continue
    [ -f $d/export.json ] && continue
    echo "== export int8_addresnet20_$v to C and HLS"
    x=$(mktemp -d)
    "$BIN" eval --model $d/model.json --data $DATA --integer --logits $x/int.bin > /dev/null || exit 1
    "$BIN" export --model $d/model.json --target c,hls --out $x/out > /dev/null || exit 1
    make -s -C $x/out/c && make -s -C $x/out/hls || exit 1
    t0=$(date +%s)
    "$x/out/c/infer" $DATA/t10k-images-idx3-ubyte.gz $DATA/t10k-labels-idx1-ubyte.gz --threads 2 --logits $x/c.bin > $x/c.json || exit 1
    t1=$(date +%s)
    "$x/out/hls/infer" $DATA/t10k-images-idx3-ubyte.gz $DATA/t10k-labels-idx1-ubyte.gz --logits $x/h.bin > $x/h.json || exit 1
    t2=$(date +%s)
    c_same=false; h_same=false
    cmp -s $x/c.bin $x/int.bin && c_same=true
    cmp -s $x/h.bin $x/int.bin && h_same=true
    cp $x/out/hls/estimate.json $d/estimate.json
    printf '{"images": 10000, "c_logits_identical": %s, "hls_csim_logits_identical": %s, "c": %s, "hls_csim": %s, "c_seconds": %d, "hls_csim_seconds": %d}\n' \
      $c_same $h_same "$(cat $x/c.json)" "$(cat $x/h.json)" $((t1 - t0)) $((t2 - t1)) > $d/export.json
    cat $d/export.json
    rm -rf $x
  done
}
case $what in
  all) train resnet20 addresnet20; int8; export_int8; train ds_addresnet20 ;;
  train) train resnet20 addresnet20 ds_addresnet20 ;;
  int8) int8 ;;
  export) export_int8 ;;
  table) ;;
  *) echo "usage: bash results/run_addernet_table.sh [train|int8|export|table]" >&2; exit 2 ;;
esac
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
rows, base, params, int8 = [], {}, {}, {}
for m, label in [("resnet20", "CNN ResNet-20"), ("addresnet20", "AddResNet-20"), ("ds_addresnet20", "DS-AddResNet-20")]:
    met = last(f"results/models/addernet_{m}_metrics.jsonl")
    if not met:
        rows.append(f"| {label} | not run yet | | | | | `datafree train configs/addernet/{m}.json` |")
        continue
    ins = inspect(f"results/models/addernet_{m}.json")
    acc = 100 * met["test_acc"]
    base[m] = acc
    params[m] = ins.get("params", 0)
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
    int8[v] = ia
    fa = 100 * ij["fake_quant_accuracy"]
    rows.append(f"| {label} | {ia:.2f} (fake-quant {fa:.2f}, agreement {100 * ij['top1_agreement']:.2f} %) | | | | "
                f"{rj.get('run_seconds', 0) / 60:.0f} min | `datafree quantize configs/addernet/int8_addresnet20_{v}.json`, "
                f"then `datafree eval --model results/models/addernet_int8_addresnet20_{v}.json --data <FMNIST> --integer` |")
with open("results/addernet_fmnist.md.tmp", "w") as f:
    f.write("# AdderNet on Fashion-MNIST\n\n"
            "Written by `bash results/run_addernet_table.sh` from the finished runs (10,000 real test images).\n"
            "Same budget for the three float rows: 15 epochs, SGD lr 0.1 momentum 0.9 cosine, weight decay\n"
            "5e-4, batch 128, crop-pad 2 + flip, seed 1 (one seed each); adder layers with the reference\n"
            "code's adaptive learning rate (eta 0.2). MACs are multiply-accumulates of the conv/linear\n"
            "layers, adds the adder layers' additions (a subtraction and an accumulation per tap, the seeds'\n"
            "convention), per image. The 8-bit rows: weights and activations on power-of-two grids\n"
            "(seed 002; the adder weights per tensor, on the step of least squared error, outliers\n"
            "clipped: `quant.adder_weight_range: \"mse\"`), the student's BN statistics re-estimated on\n"
            "4 x 100 calibration batches of 64 real training images (`schedule.bn_recalibrate`), then\n"
            "KD fine-tuning (8 epochs x 100 iterations, SGD 1e-4) for the second row; BN folded into\n"
            "the integer requantisation after each |x - w| sum; accuracy of the integer interpreter\n"
            "(`compress/lower.h`), bit-exact with the exported C and HLS code (below).\n\n"
            "| model | top-1 % | params | MACs | adds | wall | command |\n|---|---|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n")
    if "resnet20" in base and "addresnet20" in base:
        f.write(f"\nAddResNet-20 vs CNN: {base['addresnet20'] - base['resnet20']:+.2f} pt (bar: within 1.0).")
    if "resnet20" in base and "ds_addresnet20" in base:
        f.write(f" DS-AddResNet-20 vs CNN: {base['ds_addresnet20'] - base['resnet20']:+.2f} pt (bar: within 3.0).")
    if "ds_addresnet20" in params and params.get("addresnet20"):
        f.write(f" DS-AddResNet-20 has {100 * (1 - params['ds_addresnet20'] / params['addresnet20']):.1f} % fewer parameters"
                " than AddResNet-20 (bar: >= 75 %).")
    for v, name in [("ptq", "calibration"), ("qat", "KD fine-tuning")]:
        if v in int8 and "addresnet20" in base:
            f.write(f" 8-bit integer ({name}) vs float AddResNet-20: {int8[v] - base['addresnet20']:+.2f} pt (bar: within 0.5).")
    f.write("\n")
    ex = []
    for v, name in [("ptq", "calibration"), ("qat", "KD fine-tuning")]:
        d = f"{R}/int8_addresnet20_{v}"
        try:
            xj = json.load(open(f"{d}/export.json"))
            es = json.load(open(f"{d}/estimate.json"))
        except OSError:
            continue
        same = lambda b: "identical" if b else "**DIFFER**"
        ex.append(f"| {name} | {same(xj['c_logits_identical'])} ({100 * xj['c']['accuracy']:.2f} %, "
                  f"{xj['c']['images_per_s']:.0f} images/s at 2 threads) | {same(xj['hls_csim_logits_identical'])} "
                  f"({100 * xj['hls_csim']['accuracy']:.2f} %, {xj['hls_csim_seconds']} s) | {es['reuse']} | "
                  f"{es['adder_units']:,} / {es['multipliers']:,} | {es['bram18k']:,} ({(es['rom_bits'] + es['line_buffer_bits']) / 8e3:.0f} kB) | "
                  f"{es['frame_interval_cycles']:,} / {es['latency_cycles']:,} |")
    if ex:
        f.write("\n## Export of the 8-bit AddResNet-20 (C and HLS)\n\n"
                "`bash results/run_addernet_table.sh export`: `datafree export --target c,hls`, both programs built and run on\n"
                "the 10,000 test images, their int32 logits compared byte for byte with the integer interpreter's\n"
                "(`datafree eval --integer --logits`). The HLS resource estimate is the exporter's formula at the\n"
                "stated reuse factor (R cycles per output value, ceil(taps / R) units per layer), not a synthesis\n"
                "report; the full per-layer estimate is `estimate.json` in each run folder.\n\n"
                "| 8-bit model | exported C vs interpreter | HLS C simulation vs interpreter | reuse | adder units / multipliers | BRAM18K (ROM + line buffers) | frame interval / latency (cycles) |\n"
                "|---|---|---|---|---|---|---|\n" + "\n".join(ex) + "\n")
os.replace("results/addernet_fmnist.md.tmp", "results/addernet_fmnist.md")
print(open("results/addernet_fmnist.md").read())
PY
