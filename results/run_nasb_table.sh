#!/usr/bin/env bash
# Runs (or resumes) every row of results/nasb_fmnist.md and rewrites the
# table from what has finished: Bi-Real ResNet-20, NASB ResNet-20 and
# NASB-V4 ResNet-20, 3 seeds each, one training budget (configs/nasb/*.json:
# 30,000 training images, full-precision pretraining 4 epochs, binarized
# finetuning 4 epochs; NASB adds a 2-epoch search on a 15k/15k proxy split),
# and the full-precision ResNet-20 at the same 8 epochs (3 seeds). Each stage resumes
# from its checkpoint; a finished one is skipped. The trial rows (alpha
# 0.003, the warmed-up rows, twice the budget) are not run here: run
# `datafree nasb configs/nasb/trials/NAME.json --resume` for them (the
# full-precision ResNet-20 trained alike: `datafree train
# configs/nasb/trials/fp_resnet20_{16ep,warmup}_s<seed>.json`); the table
# reads whichever have finished.
#   [DATAFREE_THREADS=T] bash results/run_nasb_table.sh [PATTERN]    e.g. 'bireal_*'   (table only: 'none')
set -u
cd "$(dirname "$0")/.."
BIN=${DATAFREE_BIN:-build/datafree}
pat=${1:-*}
THREADS=${DATAFREE_THREADS:+--threads $DATAFREE_THREADS}   # e.g. DATAFREE_THREADS=1 beside another run
for name in bireal_s1 nasb_s1 bireal_s2 bireal_s3 fp_resnet20 fp_resnet20_s2 fp_resnet20_s3 nasb_datafree_s1 nasb_s2 nasb_s3 nasb_datafree_adv_s1 nasb_v4free_s1 nasb_v4free_s2 nasb_v4free_s3 fp_resnet20_datafree fp_resnet20_datafree_adv fp_resnet20_datafree_s2 fp_resnet20_datafree_adv_s2; do
  case "$name" in $pat) ;; *) continue ;; esac
  if [ "${name#*datafree}" != "$name" ] && [ ! -f results/runs/nasb/generator/generator.json ]; then
    # data-free NASB draws every batch from a generator reconstructed from the teacher
    echo "== reconstruct (generator for $name)"
    "$BIN" reconstruct configs/nasb/reconstruct_resnet20.json --resume $THREADS || exit 1
  fi
  if [ "${name#fp_resnet20}" != "$name" ]; then
    [ -f "results/runs/nasb/$name/model.json" ] && continue
    echo "== $name"
    r=; [ -f "results/runs/nasb/$name/ckpt.safetensors" ] && r=--resume
    "$BIN" train "configs/nasb/$name.json" $r $THREADS || exit 1
    continue
  fi
  echo "== $name"
  "$BIN" nasb "configs/nasb/$name.json" --resume $THREADS || exit 1
done
/usr/bin/python3 - <<'PY'
import json, os, statistics, subprocess
BIN = os.environ.get("DATAFREE_BIN", "build/datafree")
R = "results/runs/nasb"
def last_acc(d):
    try:
        return 100 * [json.loads(l) for l in open(f"{d}/metrics.jsonl")][-1]["test_acc"]
    except (OSError, IndexError, KeyError):
        return None
def secs(d):
    try:
        return sum(json.loads(l).get("epoch_seconds", 0) for l in open(f"{d}/metrics.jsonl"))
    except OSError:
        return 0
def cost(model):
    try:
        j = json.loads(subprocess.run([BIN, "inspect", model, "--json"], capture_output=True, text=True, check=True).stdout)
        return j["flops"], j["memory_bits"]
    except Exception:
        return None, None
rows = []
def arch_lr(d):  # the search's alpha learning rate, as the run recorded its config
    try:
        return json.load(open(f"{d}/config.json"))["search"]["arch"]["lr"]
    except (OSError, KeyError, ValueError):
        return None
table_lr = json.load(open("configs/nasb/nasb_s1.json"))["search"]["arch"]["lr"]
def row(label, dirs, search):
    accs, flops, mem, wall, fins, pre = [], [], [], [], [], []
    for d, s in zip(dirs, search):
        fin = f"{d}/finetune"
        if not os.path.exists(f"{fin}/model.json"):
            continue
        accs.append(last_acc(fin))
        pre.append(last_acc(f"{d}/pretrain"))
        fins.append(fin)
        f, m = cost(f"{fin}/model.json")
        flops.append(f), mem.append(m)
        wall.append(secs(f"{d}/pretrain") + secs(fin) + (secs(s) if s else 0))
    if not accs:
        return label, None
    mean = statistics.mean(accs)
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    seeds = ", ".join(f"{a:.2f}" for a in accs)
    med = sorted(zip(accs, fins))[(len(accs) - 1) // 2]  # the median seed's model reproduces the row
    if not any(f"{med[1]}/model.json" in m for m in models):  # a row shown in two tables lists its model once
        models.append(f"- {label}: `./build/datafree eval --model {med[1]}/model.json --data /usr/share/datasets/fashion-mnist "
                      f"--binary` ({med[0]:.2f} %)")
    return label, (mean, sd, len(accs), seeds, statistics.mean(flops), statistics.mean(mem) / 1e6, statistics.mean(wall) / 60,
                   statistics.mean(pre))
NOT_RUN = "| not run yet" + " |" * 7  # a row of the 8-column tables (HDR) with no finished run
models = []
def table(specs):  # table lines for rows (label, run dirs, search dirs), and the Bi-Real row's (mean, Flops) they compare with
    lines, base = [], None
    for label, dirs, search in specs:
        l, v = row(label, dirs, search)
        if v is None:
            lines.append(f"| {l} {NOT_RUN}")
            continue
        mean, sd, n, seeds, fl, mb, wall, pre = v
        if base is None and l.startswith("Bi-Real"):
            base = (mean, fl)
        rel = f"{fl / base[1]:.2f}x" if base else ""
        d = f"{mean - base[0]:+.2f}" if base and not l.startswith("Bi-Real") else ""
        lines.append(f"| {l} | {mean:.2f} ± {sd:.2f} ({n} seed{'s' if n > 1 else ''}: {seeds}) | {d} | {pre:.2f} | "
                     f"{fl:.3e} | {rel} | {mb:.3f} | {wall:.0f} min |")
    return lines, base
out, base = table([
        ("Bi-Real ResNet-20", [f"{R}/bireal_s{s}" for s in (1, 2, 3)], [None] * 3),
        ("NASB ResNet-20", [f"{R}/nasb_s{s}/v1" for s in (1, 2, 3)], [f"{R}/nasb_s{s}/search" for s in (1, 2, 3)]),
        ("NASB-V4 ResNet-20", [f"{R}/nasb_s{s}/v4" for s in (1, 2, 3)], [f"{R}/nasb_s{s}/search" for s in (1, 2, 3)]),
        # V4 as the thesis defines its variants, with no Flops budget (the issue holds only NASB to 1.15x);
        # its run folders' search is nasb_s<seed>'s (the same config and seed; copied so the alphas are the same)
        ("NASB-V4 ResNet-20, no Flops budget", [f"{R}/nasb_v4free_s{s}/v4" for s in (1, 2, 3)],
         [f"{R}/nasb_v4free_s{s}/search" for s in (1, 2, 3)]),
        # the same with the pretraining's SGD warmed up over its first epoch (the rate 0.1 from the start left
        # the loss at 9.7-16.5 after 50 steps); configs/nasb/trials/nasb_v4free_warmup_s<seed>.json, search/ copied
        ("NASB-V4 ResNet-20, no Flops budget, pretraining warmed up 1 epoch",
         [f"{R}/trials/nasb_v4free_warmup_s{s}/v4" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v4free_warmup_s{s}/search" for s in (1, 2, 3)]),
        # the same rows from the searches at the first alpha learning rate (0.003), kept as the comparison
        ("NASB ResNet-20, alpha Adam 0.003", [f"{R}/trials/nasb_archlr0.003_s{s}/v1" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_archlr0.003_s{s}/search" for s in (1, 2, 3)]),
        ("NASB-V4 ResNet-20, alpha Adam 0.003", [f"{R}/trials/nasb_archlr0.003_s{s}/v4" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_archlr0.003_s{s}/search" for s in (1, 2, 3)])])
for name, label in [
        ("nasb_datafree_s1", "data-free NASB ResNet-20 (every batch from a generator reconstructed from the ResNet-20 teacher, frozen)"),
        ("nasb_datafree_adv_s1", "data-free NASB ResNet-20, the generator trained on adversarially (`source.update`)"),
        ("trials/nasb_datafree_archlr0.003_s1", "data-free NASB ResNet-20, frozen generator"),
        # the same search (search/ copied), the pretraining's backbone started from the teacher's weights
        # (backbone_from; stop 27), at the table's SGD 0.1 and at 0.01
        ("trials/nasb_datafree_bb_s1", "data-free NASB ResNet-20, frozen generator, backbone started from the teacher (`backbone_from`)"),
        ("trials/nasb_datafree_bb_lr0.01_s1",
         "data-free NASB ResNet-20, frozen generator, backbone started from the teacher, pretraining SGD 0.01")]:
    if arch_lr(f"{R}/{name}") not in (None, table_lr):
        label += f", alpha Adam {arch_lr(f'{R}/{name}'):g}"
    l, v = row(label, [f"{R}/{name}/v1"], [f"{R}/{name}/search"])
    if v is None:
        out.append(f"| {l} {NOT_RUN}")
        continue
    mean, sd, n, seeds, fl, mb, wall, pre = v
    out.append(f"| {l} | {mean:.2f} (1 seed) | {mean - base[0]:+.2f} | {pre:.2f} | {fl:.3e} | {fl / base[1]:.2f}x | {mb:.3f} | "
               f"{wall:.0f} min |" if base else f"| {l} | {mean:.2f} (1 seed) | | {pre:.2f} | {fl:.3e} | | {mb:.3f} | {wall:.0f} min |")
# The same comparison at twice the training budget (8 + 8 epochs), measured against its own Bi-Real:
# configs/nasb/trials/{bireal,nasb}_16ep_s<seed>.json, the NASB runs' search/ copied from nasb_s<seed>
budget2, base2 = table([
        ("Bi-Real ResNet-20, 16 epochs", [f"{R}/trials/bireal_16ep_s{s}" for s in (1, 2, 3)], [None] * 3),
        ("NASB ResNet-20, 16 epochs", [f"{R}/trials/nasb_16ep_s{s}/v1" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_16ep_s{s}/search" for s in (1, 2, 3)])])
# Every row's full-precision pretraining with SGD warmed up over its first epoch (a trial: the budgeted V4's
# pretraining was at loss 4.9-10.1 after 50 steps without it), against a Bi-Real warmed up alike:
# configs/nasb/trials/{bireal,nasb,nasb_v4}_warmup_s<seed>.json, the NASB runs' search/ copied from nasb_s<seed>
warm, basew = table([
        # seeds 4 and 5 (stop 26) for the selection below; NASB seeds 4 and 5 searched in their own run folders
        ("Bi-Real ResNet-20, warmed up", [f"{R}/trials/bireal_warmup_s{s}" for s in range(1, 6)], [None] * 5),
        ("NASB ResNet-20, warmed up", [f"{R}/trials/nasb_warmup_s{s}/v1" for s in range(1, 6)],
         [f"{R}/trials/nasb_warmup_s{s}/search" for s in range(1, 6)]),
        # one network for every seed: the search whose network scored best on the 30,000 held-out training images
        # (results/nasb_select.sh over the row above's five: nasb_s2's), trained again with seeds 1, 3, 4 and 5
        # (seed 2 is the row above's run)
        ("NASB ResNet-20, warmed up, the best of the 5 searches on held-out images",
         [f"{R}/trials/nasb_warmup_s2/v1" if s == 2 else f"{R}/trials/nasb_sel_warmup_s{s}/v1" for s in range(1, 6)],
         [f"{R}/trials/nasb_warmup_s2/search" if s == 2 else f"{R}/trials/nasb_sel_warmup_s{s}/search" for s in range(1, 6)]),
        ("NASB-V4 ResNet-20, warmed up", [f"{R}/trials/nasb_v4_warmup_s{s}/v4" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v4_warmup_s{s}/search" for s in (1, 2, 3)]),
        ("NASB-V4 ResNet-20, no Flops budget, warmed up", [f"{R}/trials/nasb_v4free_warmup_s{s}/v4" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v4free_warmup_s{s}/search" for s in (1, 2, 3)]),
        # V5 (8 ops kept for a cell's output node, 6 for the others), derived from the alphas nasb_s<seed>'s search
        # logged (its search/ holds copies of that alpha.jsonl; datafree nasb --resume derives without a checkpoint)
        ("NASB-V5 ResNet-20, no Flops budget, warmed up", [f"{R}/trials/nasb_v5free_warmup_s{s}/v5" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v5free_warmup_s{s}/search" for s in (1, 2, 3)]),
        # V3 (two parallel copies of V1's cells, summed), derived like V5 from nasb_s<seed>'s logged alphas (stop 27)
        ("NASB-V3 ResNet-20, no Flops budget, warmed up", [f"{R}/trials/nasb_v3free_warmup_s{s}/v3" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v3free_warmup_s{s}/search" for s in (1, 2, 3)]),
        # V2 (4 ops kept for a cell's output node), derived like V5 from nasb_s<seed>'s logged alphas (stop 28)
        ("NASB-V2 ResNet-20, no Flops budget, warmed up", [f"{R}/trials/nasb_v2free_warmup_s{s}/v2" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_v2free_warmup_s{s}/search" for s in (1, 2, 3)])])
# The warmed-up rows again, the binarized finetuning distilled from the full-precision ResNet-20 (a trial:
# CE + 2.5 T^2 KL at T 4 to results/runs/nasb/fp_resnet20's logits, the finetune block's source); each run
# folder's search/ and pretrain/ are copies of the warmed-up run's (same config and seed up to the finetuning):
# configs/nasb/trials/{bireal,nasb}_warmup_kd_s<seed>.json
kd, _ = table([
        ("Bi-Real ResNet-20, warmed up, finetuning distilled", [f"{R}/trials/bireal_warmup_kd_s{s}" for s in (1, 2, 3)],
         [None] * 3),
        ("NASB ResNet-20, warmed up, finetuning distilled", [f"{R}/trials/nasb_warmup_kd_s{s}/v1" for s in (1, 2, 3)],
         [f"{R}/trials/nasb_warmup_kd_s{s}/search" for s in (1, 2, 3)])])
# The thesis' layer order for NASB's networks, Conv -> ReLU -> BN at every binary conv (`bconv_relu`; stop 28),
# warmed up as above: the chosen search (nasb_s2's) with training seeds 1, 3, 4, 5, against the warmed-up Bi-Real
# as published (no ReLU; the thesis' comparison) and Bi-Real with the same ReLUs (an empty genotype with
# bconv_relu): configs/nasb/trials/{nasb_sel_relu,bireal_relu}_warmup_s<seed>.json
relu, _ = table([
        ("Bi-Real ResNet-20, warmed up", [f"{R}/trials/bireal_warmup_s{s}" for s in range(1, 6)], [None] * 5),
        ("Bi-Real ResNet-20, warmed up, Conv -> ReLU -> BN", [f"{R}/trials/bireal_relu_warmup_s{s}" for s in (1, 2, 3)],
         [None] * 3),
        ("NASB ResNet-20, warmed up, the chosen search, Conv -> ReLU -> BN",
         [f"{R}/trials/nasb_sel_relu_warmup_s{s}/v1" for s in (1, 3, 4, 5)],
         [f"{R}/trials/nasb_sel_relu_warmup_s{s}/search" for s in (1, 3, 4, 5)]),
        # the same with seed 003's tanh in place of hardtanh in the pretraining (`pretrain_sign`; stop 29; seeds 5
        # and 6 stop 30): configs/nasb/trials/nasb_sel_relu_tanh_warmup_s<seed>.json, search/ copied
        ("NASB ResNet-20, warmed up, the chosen search, Conv -> ReLU -> BN, pretrained with tanh",
         [f"{R}/trials/nasb_sel_relu_tanh_warmup_s{s}/v1" for s in (1, 3, 4, 5, 6)],
         [f"{R}/trials/nasb_sel_relu_tanh_warmup_s{s}/search" for s in (1, 3, 4, 5, 6)]),
        # Bi-Real with the same ReLUs, pretrained with tanh: configs/nasb/trials/bireal_relu_tanh_warmup_s<seed>.json
        # (seeds 4 and 5 stop 30)
        ("Bi-Real ResNet-20, warmed up, Conv -> ReLU -> BN, pretrained with tanh",
         [f"{R}/trials/bireal_relu_tanh_warmup_s{s}" for s in range(1, 6)], [None] * 5),
        # a search of 8 epochs instead of 2 (search seed 1; stop 29), its network pretrained with tanh and trained
        # with seeds 1, 3 and 4: configs/nasb/trials/nasb_search8_relu_tanh_s<seed>.json (s3's and s4's search/
        # copies of s1's)
        ("NASB ResNet-20, warmed up, an 8-epoch search, Conv -> ReLU -> BN, pretrained with tanh",
         [f"{R}/trials/nasb_search8_relu_tanh_s{s}/v1" for s in (1, 3, 4)],
         [f"{R}/trials/nasb_search8_relu_tanh_s{s}/search" for s in (1, 3, 4)]),
        # V2 (4 ops kept for a cell's output node), no Flops budget, from the chosen search's logged alphas (its
        # search/ holds copies of nasb_s2's alpha.jsonl), ReLU order, tanh pretraining (stop 30):
        # configs/nasb/trials/nasb_v2free_relu_tanh_s<seed>.json
        ("NASB-V2 ResNet-20, no Flops budget, warmed up, the chosen search, Conv -> ReLU -> BN, pretrained with tanh",
         [f"{R}/trials/nasb_v2free_relu_tanh_s{s}/v2" for s in (1, 3, 4)],
         [f"{R}/trials/nasb_v2free_relu_tanh_s{s}/search" for s in (1, 3, 4)]),
        # the same V2 held to the 1.15x budget, the headroom the trades leave filled again (`search.flops_fill`;
        # stop 31): configs/nasb/trials/nasb_v2fill_relu_tanh_s<seed>.json, search/ logs copied
        ("NASB-V2 ResNet-20, Flops budget filled, warmed up, the chosen search, Conv -> ReLU -> BN, pretrained with tanh",
         [f"{R}/trials/nasb_v2fill_relu_tanh_s{s}/v2" for s in (1, 3, 4, 5)],
         [f"{R}/trials/nasb_v2fill_relu_tanh_s{s}/search" for s in (1, 3, 4, 5)]),
        # the V1 tanh runs' binarized finetuning distilled from the run's own full-precision pretraining (T 4, alpha
        # 2.5; stop 31): configs/nasb/trials/nasb_sel_relu_tanh_selfkd_s<seed>.json, search/ and v1/pretrain copied
        ("NASB ResNet-20, warmed up, the chosen search, Conv -> ReLU -> BN, pretrained with tanh, finetuning distilled "
         "from its own pretraining",
         [f"{R}/trials/nasb_sel_relu_tanh_selfkd_s{s}/v1" for s in (1, 3, 4, 5, 6)],
         [f"{R}/trials/nasb_sel_relu_tanh_selfkd_s{s}/search" for s in (1, 3, 4, 5, 6)]),
        # Bi-Real trained the same way, for a fair comparison with the row above (stop 32): finetuning distilled from
        # its own pretraining (pretrain/ copied), as published and with the ReLUs and tanh:
        # configs/nasb/trials/{bireal_warmup,bireal_relu_tanh}_selfkd_s<seed>.json
        ("Bi-Real ResNet-20, warmed up, finetuning distilled from its own pretraining",
         [f"{R}/trials/bireal_warmup_selfkd_s{s}" for s in range(1, 6)], [None] * 5),
        ("Bi-Real ResNet-20, warmed up, Conv -> ReLU -> BN, pretrained with tanh, finetuning distilled from its own "
         "pretraining", [f"{R}/trials/bireal_relu_tanh_selfkd_s{s}" for s in range(1, 6)], [None] * 5),
        # both distilled rows' finetuning at Adam 2e-3 instead of 1e-3 (stop 33; pretrain/, and NASB's search/,
        # copied): configs/nasb/trials/{nasb_sel_relu_tanh,bireal_warmup}_selfkd_lr2e-3_s<seed>.json
        ("NASB ResNet-20, warmed up, the chosen search, Conv -> ReLU -> BN, pretrained with tanh, finetuning distilled "
         "from its own pretraining, Adam 2e-3",
         [f"{R}/trials/nasb_sel_relu_tanh_selfkd_lr2e-3_s{s}/v1" for s in (1, 3, 4, 5, 6)],
         [f"{R}/trials/nasb_sel_relu_tanh_selfkd_lr2e-3_s{s}/search" for s in (1, 3, 4, 5, 6)]),
        ("Bi-Real ResNet-20, warmed up, finetuning distilled from its own pretraining, Adam 2e-3",
         [f"{R}/trials/bireal_warmup_selfkd_lr2e-3_s{s}" for s in range(1, 6)], [None] * 5)])
fp_mean = {}
def fp_row(label, runs, lines, base):  # a full-precision ResNet-20 row (run folders under R), trained in one stage
    runs = [d for d in runs if os.path.exists(f"{R}/{d}/model.json")]
    accs = [last_acc(f"{R}/{d}") for d in runs]
    if not accs:
        lines.append(f"| {label} {NOT_RUN}")
        return None
    n = len(accs)
    acc = (f"{accs[0]:.2f} (1 seed)" if n == 1 else
           f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f} ({n} seeds: " + ", ".join(f"{a:.2f}" for a in accs) + ")")
    rel = f"{statistics.mean(accs) - base[0]:+.2f}" if base and "data-free" not in label else ""
    lines.append(f"| {label} | {acc} | {rel} | | | | | {statistics.mean(secs(R + '/' + d) for d in runs) / 60:.0f} min |")
    med = sorted(zip(accs, runs))[(n - 1) // 2]
    models.append(f"- {label}: `./build/datafree eval --model {R}/{med[1]}/model.json --data "
                  f"/usr/share/datasets/fashion-mnist` ({med[0]:.2f} %)")
    return statistics.mean(accs)
for name, label in [("fp_resnet20", "full-precision ResNet-20 (same 8 epochs, 30k images)"),
                    ("fp_resnet20_datafree", "full-precision ResNet-20, data-free (same 8 x 235 batches from the generator, frozen)"),
                    ("fp_resnet20_datafree_adv", "full-precision ResNet-20, data-free, the generator trained on adversarially")]:
    fp_mean[name] = fp_row(label, (name, f"{name}_s2", f"{name}_s3"), out, base)
# the full-precision ResNet-20 trained as each trial's rows were (configs/nasb/trials/fp_resnet20_{16ep,warmup}_s<seed>.json)
fp_row("full-precision ResNet-20, 16 epochs", [f"trials/fp_resnet20_16ep_s{s}" for s in (1, 2, 3)], budget2, base2)
fp_row("full-precision ResNet-20, warmed up", [f"trials/fp_resnet20_warmup_s{s}" for s in (1, 2, 3)], warm, basew)
HDR = ("| model | top-1 % (mean ± std) | vs Bi-Real (pt) | before binarizing: top-1 % after full-precision pretraining "
       "(mean) | Flops | vs Bi-Real | memory (Mbit) | wall per seed |\n|---|---|---|---|---|---|---|---|\n")
with open("results/nasb_fmnist.md.tmp", "w") as f:
    f.write("# NASB on Fashion-MNIST\n\nWritten by `bash results/run_nasb_table.sh` from the finished runs; top-1 on the "
            "10,000 real test images after binarized finetuning.\nOne budget for every row: 30,000 training images, "
            "full-precision pretraining 4 epochs (SGD 0.1 cosine), binarized finetuning 4 epochs (Adam 1e-3 cosine, "
            "weight decay 0), batch 128; NASB and NASB-V4 share one 2-epoch binary-gate search per seed "
            f"(15k/15k proxy split; weights SGD 0.01 momentum 0.9, alpha Adam {table_lr:g}; the rows marked 0.003 are the "
            "first searches, whose alphas stayed near uniform), each derived network but the no-budget rows "
            "held to 1.15x the Bi-Real backbone's Flops (`search.flops_budget`: cheaper ops traded in by least "
            "alpha per Flop saved). The data-free rows take every batch of every stage, the search's included, "
            "from a GDFQ generator reconstructed from the ResNet-20 teacher (`configs/nasb/reconstruct_resnet20.json`; "
            "frozen, or trained on with `source.update`), with GDFQ's KD loss; only the real test split is read, for evaluation. Flops = real MACs + binary MACs / 64, memory = 32 real + 1 binary bits per "
            "parameter (seed 003 Table 4.6), from `datafree inspect`. The column before binarizing is the same network's top-1 after its "
            "full-precision pretraining (the first half of the budget), the mean over the seeds: what binarized finetuning "
            "started from. The full-precision ResNet-20 rows spend the whole budget in full precision; their gap to Bi-Real is "
            "the headroom above the binary rows. Wall per seed is as each run went (1 or 2 threads, "
            "beside 0-3 other runs): not a speed comparison. Commands: `datafree nasb configs/nasb/<row>_s<seed>.json` (the NASB rows at alpha 0.003: "
            "`configs/nasb/trials/nasb_archlr0.003_s<seed>.json`; the warmed-up V4: "
            "`configs/nasb/trials/nasb_v4free_warmup_s<seed>.json`).\n\n" + HDR)
    f.write("\n".join(out) + "\n")
    if any("not run yet" not in b for b in budget2):
        f.write("\nTwice the budget (a trial, chosen after the table above: full-precision pretraining 8 epochs, binarized "
                "finetuning 8 epochs, all else the same; NASB on the same searches as the table's, each run folder's "
                "`search/` a copy of `nasb_s<seed>/search`; `configs/nasb/trials/{bireal,nasb}_16ep_s<seed>.json`), "
                "against its own Bi-Real:\n\n"
                + HDR + "\n".join(budget2) + "\n")
    if any("not run yet" not in b for b in warm[:3]):
        f.write("\nPretraining warmed up (a trial, chosen after the table above: the full-precision pretraining's SGD "
                "ramps from 0.001 to 0.1 over its first epoch, `schedule.warmup_epochs` 1; epochs and all else the "
                "same; the NASB runs on the same searches as the table's, each run folder's `search/` a copy of "
                "`nasb_s<seed>/search`; `configs/nasb/trials/{bireal,nasb,nasb_v4,nasb_v4free,nasb_v5free,nasb_v3free,nasb_v2free}_warmup_s<seed>.json`; Bi-Real and NASB also with seeds 4 and 5, NASB's searched in its own run folder; `nasb_sel_warmup_s{1,3,4,5}.json` train the search that `results/nasb_select.sh` chose among the five on the 30,000 held-out training images, nasb_s2's, with the other seeds; V2's, V3's and V5's `search/` hold copies of `nasb_s<seed>/search`'s logs, and `datafree nasb --resume` derives it from the alphas logged after the last epoch), "
                "against a Bi-Real warmed up alike:\n\n"
                + HDR + "\n".join(warm) + "\n")
    if any("not run yet" not in b for b in kd):
        f.write("\nFinetuning distilled (a trial, chosen after the tables above: the warmed-up rows with the binarized "
                "finetuning's loss CE + 2.5 T^2 KL(teacher || student) at T = 4, KL averaged over the batch's logits as "
                "GDFQ's, the teacher the full-precision ResNet-20 of the first table, `results/runs/nasb/fp_resnet20` "
                "(92.10 %); each run folder's `search/` and `pretrain/` are copies of the warmed-up run's, as its config "
                "is the same up to the finetuning; `configs/nasb/trials/{bireal,nasb}_warmup_kd_s<seed>.json`), against a "
                "Bi-Real distilled alike:\n\n" + HDR + "\n".join(kd) + "\n")
    if any("not run yet" not in b for b in relu[1:]):
        f.write("\nConv -> ReLU -> BN (a trial, chosen after the tables above: the order seed 003 pretrains and "
                "finetunes NASB's networks in, a ReLU between every binary conv and its BN, `\"bconv_relu\": true`; "
                "warmed up as above; the search the held-out images chose, nasb_s2's, each run folder's `search/` a "
                "copy of its logs, with the training seeds that did not take part in the choice; "
                "`configs/nasb/trials/{nasb_sel_relu,bireal_relu}_warmup_s<seed>.json`), against the warmed-up "
                "Bi-Real as published (no ReLU, as the thesis compares) and Bi-Real with the same ReLUs; and the "
                "same with the full-precision pretraining's stand-in for sign tanh instead of hardtanh, as seed 003 "
                "pretrains NASB (`\"pretrain_sign\": \"tanh\"`; `{nasb_sel_relu_tanh,bireal_relu_tanh}_warmup_s<seed>.json`), "
                "and with a search of 8 epochs instead of 2 (search seed 1, `nasb_search8_relu_tanh_s<seed>.json`, "
                "one search trained with three seeds), and the chosen search's V2 without a Flops budget "
                "(`nasb_v2free_relu_tanh_s<seed>.json`) and held to the 1.15x budget with the headroom its trades "
                "leave filled again (`search.flops_fill`, `nasb_v2fill_relu_tanh_s<seed>.json`), and the tanh NASB "
                "runs finetuned with KD from their own full-precision pretraining "
                "(`nasb_sel_relu_tanh_selfkd_s<seed>.json`), against both Bi-Reals distilled from their own pretraining "
                "alike (`{bireal_warmup,bireal_relu_tanh}_selfkd_s<seed>.json`), and the distilled NASB and Bi-Real as "
                "published with the finetuning's Adam at 2e-3 instead of 1e-3 "
                "(`{nasb_sel_relu_tanh,bireal_warmup}_selfkd_lr2e-3_s<seed>.json`):\n\n"
                + HDR + "\n".join(relu) + "\n")
    if models:
        f.write("\nThe median seed's finetuned model of each row (committed; the binary ones with bit-packed inference "
                "beside the float simulation):\n\n" + "\n".join(models) + "\n")
    def stage(name, st):  # the last epoch of a finished data-free run's stage, with its mean epoch time
        d = f"{R}/{name}/{st}" if st else f"{R}/{name}"
        try:
            if not os.path.exists(f"{d}/model.json"):
                return None
            ls = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
            return dict(ls[-1], mean_seconds=statistics.mean(l["epoch_seconds"] for l in ls))
        except (OSError, IndexError, KeyError, ValueError):
            return None
    pre, fin = stage("nasb_datafree_s1/v1", "pretrain"), stage("nasb_datafree_s1/v1", "finetune")
    if pre and fin:  # what the data-free rows' networks learned: the generator's batches against the real test set
        f.write(f"\nData-free rows: the network starts from scratch and never sees a real training image. With the "
                f"frozen generator it fits the generator's batches (top-1 against the labels they were drawn for: after "
                f"pretraining {100 * pre['train_acc']:.1f} %, after binarized finetuning {100 * fin['train_acc']:.1f} %) "
                f"but reaches only {100 * pre['test_acc']:.2f} % / {100 * fin['test_acc']:.2f} % on the real test set: "
                "the generator (8 x 100 GDFQ iterations, then frozen) covers too narrow a part of the data for "
                "training from scratch. GDFQ's quantization rows do well from the same kind of generator because "
                "their student starts from the teacher's weights.")
        apre, afin = stage("nasb_datafree_adv_s1/v1", "pretrain"), stage("nasb_datafree_adv_s1/v1", "finetune")
        # the time per epoch against the frozen run whose search used the same alpha rate (run alike)
        ref = next((n for n in ("nasb_datafree_s1", "trials/nasb_datafree_archlr0.003_s1")
                    if arch_lr(f"{R}/{n}") == arch_lr(f"{R}/nasb_datafree_adv_s1")), None)
        rpre, rfin = (stage(f"{ref}/v1", "pretrain"), stage(f"{ref}/v1", "finetune")) if ref else (None, None)
        if apre and afin:
            alr = arch_lr(f"{R}/nasb_datafree_adv_s1")
            f.write(f" With `source.update` (`configs/nasb/nasb_datafree_adv_s1.json`"
                    + (f", searched at alpha Adam {alr:g}" if alr is not None else "") + ": every stage, the search's "
                    "included, keeps training the same generator, one Adam step per batch on GDFQ's CE + 0.1 BNS minus "
                    "DFAD's L1 gap between the network's and the teacher's logits, so the images move to where the "
                    f"network still disagrees with the teacher) the batches are harder (generator-batch top-1 "
                    f"{100 * apre['train_acc']:.1f} % / {100 * afin['train_acc']:.1f} %) and the real test set gives "
                    f"{100 * apre['test_acc']:.2f} % / {100 * afin['test_acc']:.2f} % (finetuning epoch by epoch: "
                    + ", ".join(f"{100 * json.loads(l)['test_acc']:.2f}" for l in open(f"{R}/nasb_datafree_adv_s1/v1/finetune/metrics.jsonl"))
                    + " %)" + (f", at {apre['mean_seconds'] / rpre['mean_seconds']:.1f}x / "
                    f"{afin['mean_seconds'] / rfin['mean_seconds']:.1f}x the time per epoch of the frozen run searched "
                    f"at the same alpha rate (`{ref}`)" if rpre and rfin else "") + ".")
        fpf, fpa = fp_mean.get("fp_resnet20_datafree"), fp_mean.get("fp_resnet20_datafree_adv")
        if fpf is not None and fpa is not None:
            f.write(f" The full-precision ResNet-20 trained the same way from the same generator (the table's mean): "
                    f"{fpf:.2f} % frozen, {fpa:.2f} % trained on "
                    "(`configs/nasb/fp_resnet20_datafree*.json`; the choice of the update's weights: "
                    "`configs/nasb/trials/README.md`). From-scratch data-free networks swing by several points "
                    "between epochs and seeds; " + ("the generator trained on helps the full-precision network on "
                    "average, not (at this budget) the binary one" if fpa > fpf + 1 else "the generator trained on "
                    "helps neither reliably at this budget") + ", and neither comes near training on the real images.")
        bb = [(n, lr, stage(f"trials/{n}/v1", "pretrain"), stage(f"trials/{n}/v1", "finetune"))
              for n, lr in (("nasb_datafree_bb_s1", "0.1"), ("nasb_datafree_bb_lr0.01_s1", "0.01"))]
        bb = [x for x in bb if x[2] and x[3]]
        if bb:  # the teacher's weights as the backbone's start (backbone_from)
            f.write(" Nor does GDFQ's advantage carry over by starting the derived network's backbone from the teacher's "
                    "weights (`backbone_from`: the stem, the 18 convs in order along the 18 binary-conv units, the "
                    "downsampling and fc; the NAS ops afresh; the search as `trials/nasb_datafree_archlr0.003_s1`'s): "
                    + "; ".join(f"pretraining at SGD {lr}, {100 * p['test_acc']:.2f} % / {100 * q['test_acc']:.2f} %"
                                for _, lr, p, q in bb)
                    + " (one seed each). Likely why: the Bi-Real-style units (one conv per shortcut, hardtanh) do not "
                    "compute the ResNet-20's function from its weights, so the network does not start as the teacher.")
        f.write("\n")
os.replace("results/nasb_fmnist.md.tmp", "results/nasb_fmnist.md")
print(open("results/nasb_fmnist.md").read())
PY
