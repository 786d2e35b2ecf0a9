#!/usr/bin/env bash
# The export checks on all 10,000 Fashion-MNIST test images, for the
# committed w4a4 and w8a8 ResNet-20 models: integer interpreter vs
# fake-quant (accuracy, top-1 agreement), exported C vs interpreter (int32
# logits compared byte for byte), ONNX Runtime on the QDQ export vs the
# interpreter (top-1 agreement; needs tests/ort/node_modules), HLS C
# simulation vs interpreter (HLS=0 skips that slow part). Minutes.
# Other models: MODELS="a.json b.json" TARGETS=c,hls (an adder network has
# no ONNX form), e.g. the 8-bit AddResNet-20 of results/addernet_fmnist.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${DATAFREE_BIN:-build/datafree}
DATA=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
TARGETS=${TARGETS:-c,hls,onnx-qdq}
for m in ${MODELS:-results/models/gdfq_w4a4_s1.json results/models/real_w8a8.json}; do
  echo "== $m"
  "$BIN" eval --model "$m" --data "$DATA" --integer --logits "$tmp/int.bin"
  "$BIN" export --model "$m" --target "$TARGETS" --out "$tmp/x" >/dev/null
  make -s -C "$tmp/x/c"
  make -s -C "$tmp/x/hls"
  "$tmp/x/c/infer" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" --threads 2 --logits "$tmp/c.bin"
  if cmp -s "$tmp/c.bin" "$tmp/int.bin"; then echo "exported C: int32 logits identical to the interpreter's"; else echo "exported C: DIFFERS"; fi
  if [ "${HLS:-1}" = 1 ]; then  # C simulation of the HLS code: slow (HLS=0 skips it)
    "$tmp/x/hls/infer" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" --logits "$tmp/h.bin"
    if cmp -s "$tmp/h.bin" "$tmp/int.bin"; then echo "HLS C simulation: identical"; else echo "HLS C simulation: DIFFERS"; fi
  fi
  if [ -d tests/ort/node_modules/onnxruntime-node ] && [ -d "$tmp/x/onnx-qdq" ]; then
    echo -n "ONNX Runtime on the QDQ export: "
    node tests/ort/eval_qdq.js "$tmp/x/onnx-qdq/model.onnx" "$DATA" 0.2860 0.3530 "$tmp/int.bin"
  fi
  rm -rf "$tmp/x"
done
rm -rf "$tmp"
