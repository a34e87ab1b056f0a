#!/usr/bin/env bash
# The one command that checks the CUDA backend on a GPU machine (no Java or Maven needed there).
#
# Here, with Java and Maven:   ../shared/tools/device-bundle.sh        (fills .device/: a jlinked Java 25, the jars,
#                                                                       the test classes, JUnit's console launcher)
# There, from the repository root with .device/ beside it:   bash tools/gpu-check.sh
#
# Runs the whole CUDA test suite (package dev.fovea.cuda and the ops golden test: the properties in FP32, TF32 and BF16 against the reference
# and the CPU, PyTorch's golden fixtures, training steps, a graph replay, memory over 10,000 steps), then the device
# benchmarks, and prints one table with the PyTorch figures measured on an H100 beside ours (shared/toolchain/README.md).
# Reports and every command's output land in $OUT (default /tmp/gpu-check). Exit status: the test suite's, or 3 when
# the tests passed but a benchmark gave no figure.
set -uo pipefail
D=.device
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
[ -x "$D/run-tests.sh" ] || { echo "gpu-check: $D/run-tests.sh not found: run ../shared/tools/device-bundle.sh first (here, with Java)" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader > "$OUT/gpu.txt" 2>/dev/null \
  || echo "(no nvidia-smi: no NVIDIA driver here)" > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"

echo "== CUDA test suite"
# (KernelEmulationTest, the host emulation of the kernels, is for machines without a GPU: left out here)
OUT="$OUT" bash "$D/run-tests.sh" --select-package dev.fovea.cuda --select-class dev.fovea.golden.OpsGoldenTest --exclude-classname '.*KernelEmulationTest' > "$OUT/cuda-tests.txt" 2>&1
tests=$?
grep -E "tests (successful|failed|skipped|aborted)|containers failed" "$OUT/cuda-tests.txt"
grep -E "✘|MethodSource|=> " "$OUT/cuda-tests.txt" | head -60

fovea() { bash "$D/java.sh" dev.fovea.cli.Main "$@" 2>&1 | grep -v "^WARNING: Using incubator" | tee -a "$OUT/bench.txt" | tail -1; }
row() { printf '%-44s %14s %14s %8s\n' "$1" "$2" "$3" "$4"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
val() { sed -n "s|.*$1=\([0-9.]*\).*|\1|p"; }

declare -a lines
missing=0
echo "== benchmarks (each line: its command's last line; full output in $OUT/bench.txt)"
for p in fp32:51 tf32:375 bf16:723; do
  prec=${p%%:*}; peer=${p#*:}
  l=$(fovea bench gemm --backend cuda --precision "$prec" --n 4096 --warmup 1 --repeats 5 --seconds 0.5); echo "$l"
  v=$(echo "$l" | val tflops); [ -n "$v" ] || missing=$((missing + 1)); lines+=("$(row "SGEMM 4096³ $prec (TFLOP/s)" "${v:--}" "$peer" "$(ratio "$v" "$peer")")")
done
for p in fp32:1140 tf32:4206 bf16:5710; do
  prec=${p%%:*}; peer=${p#*:}
  l=$(fovea bench infer --backend cuda --precision "$prec" --model vit_base_patch16_224 --batch 64 --warmup 2 --repeats 3 --seconds 1.5); echo "$l"
  v=$(echo "$l" | val "images/s"); [ -n "$v" ] || missing=$((missing + 1)); lines+=("$(row "ViT-B/16 inference, batch 64, $prec (img/s)" "${v:--}" "$peer" "$(ratio "$v" "$peer")")")
done
for b in 64:41550:227216 256:198369:637057 1024:810578:1127370; do
  IFS=: read -r batch eager graph <<< "$b"
  for mode in eager graph; do
    peer=$([ "$mode" = eager ] && echo "$eager" || echo "$graph")
    l=$(fovea bench train --backend cuda --model lenet5-full --batch "$batch" $([ "$mode" = graph ] && echo --graph) --warmup 2 --repeats 3 --seconds 1); echo "$l"
    v=$(echo "$l" | val images_per_s); [ -n "$v" ] || missing=$((missing + 1)); lines+=("$(row "LeNet-5 training, batch $batch, $mode (img/s)" "${v:--}" "$peer" "$(ratio "$v" "$peer")")")
  done
done

echo
echo "== Fovea on $(head -1 "$OUT/gpu.txt" | cut -d, -f1) against PyTorch 2.11 on an H100 (shared/toolchain/README.md)"
row "measure" "Fovea" "PyTorch H100" "ratio"
printf '%s\n' "${lines[@]}"
[ $tests -ne 0 ] && exit $tests
[ $missing -eq 0 ] || { echo "gpu-check: $missing benchmark(s) gave no figure (see $OUT/bench.txt)" >&2; exit 3; }
