#!/usr/bin/env bash
# Regenerates the FFM bindings of NCCL under src/main/java/dev/fovea/cuda/ffm/nccl with jextract (the same jextract as
# generate.sh). Header: nccl.h of the nvidia-nccl-cu13 2.30.7 wheel (NCCL_INCLUDE: its nvidia/nccl/include), with the
# CUDA 13.0 toolkit's runtime headers. Generated without -l, as the CUDA ones: the classes look symbols up in the
# libnccl.so.2 that CudaLibraries loaded.
#
# Usage: JEXTRACT=/path/to/jextract NCCL_INCLUDE=.../nvidia/nccl/include native-bindings/generate-nccl.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
JEXTRACT="${JEXTRACT:-jextract}"
CUDA_INC="${CUDA_INC:-/usr/local/cuda-13.0/include}"
NCCL_INCLUDE="${NCCL_INCLUDE:?the folder holding nccl.h (in the nvidia-nccl-cu13 wheel: nvidia/nccl/include)}"
CLANG_INC="${CLANG_INC:-/usr/lib/llvm-14/lib/clang/14.0.6/include}"
OUT="$HERE/src/main/java"
rm -rf "$OUT/dev/fovea/cuda/ffm/nccl"
source "$HERE/jextract-args.sh"
mapfile -t a < <(args function "$HERE/lists/nccl.functions"; args constant "$HERE/lists/nccl.constants"; args typedef "$HERE/lists/nccl.structs")
"$JEXTRACT" -I "$CLANG_INC" -I "$CUDA_INC" -I "$NCCL_INCLUDE" --output "$OUT" --target-package dev.fovea.cuda.ffm.nccl --header-class-name Nccl "${a[@]}" \
    "$NCCL_INCLUDE/nccl.h"
missing=0
for f in $(grep -v '^#' "$HERE/lists/nccl.functions" | grep -v '^$'); do
  grep -q "public static .* $f(\|public static class $f " "$OUT/dev/fovea/cuda/ffm/nccl/Nccl.java" || { echo "generate-nccl.sh: $f was not generated" >&2; missing=1; }
done
[ $missing = 0 ] && echo "generate-nccl.sh: bindings written under $OUT/dev/fovea/cuda/ffm/nccl"
