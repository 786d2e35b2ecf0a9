#!/usr/bin/env bash
# Builds the ONNX reader with libFuzzer + AddressSanitizer + UBSan (Debian's
# clang; apt-get install clang libclang-rt-dev if missing) and fuzzes it for
# SECONDS (default 600), seeded with the committed ONNX test files.
# Crashes, if any, are written to build-fuzz/ as crash-* and the script exits 1.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-600}
out=build-fuzz
mkdir -p "$out/corpus"
cp tests/vectors/onnx/patterns_op11.onnx tests/vectors/onnx/patterns_op17.onnx \
   tests/vectors/onnx/densenet_op17.onnx tests/vectors/onnx/mobilenet_op11.onnx "$out/corpus/"
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread"
clang $CFLAGS -fsanitize=fuzzer tests/fuzz/fuzz_onnx.c nn/*.c nn/ops/*.c nn/data/*.c \
  -lopenblas -lcjson -lz -lm -lpthread -o "$out/fuzz_onnx"
cd "$out"
./fuzz_onnx -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 corpus
