#!/usr/bin/env bash
# Regenerates the FFM bindings under src/main/java/dev/fovea/cuda/ffm/{cudart,cublas,cudnn,nvrtc} with jextract.
#
# jextract is a local tool, never committed: built from openjdk/jextract at f9866df (master, 2026-08-21) with
# Temurin 25's javac (javac --release 25 --module-version 25+f9866df over src/main/java, resources copied) and run
# on Temurin 25 against Debian 12's libclang 14.0.6 (apt-get install libclang-14-dev). `jextract --version`:
#   jextract 25+f9866df / JDK version 25.0.3+9-LTS / LibClang version Debian clang version 14.0.6
#
# Headers: the CUDA 13.0 toolkit's runtime headers; cuBLAS 13.1 and cuDNN 9.14 from shared/toolchain/cuda-include
# (the GPU machines' versions); cublasLt.h from the nvidia-cublas 13.1.1.3 wheel (not in the toolkit here).
# Generated without -l: the classes look symbols up in the libraries that CudaLibraries loaded (System.load by
# absolute path), so a machine without CUDA loads every class and gets a reason instead of an exception.
#
# Usage: JEXTRACT=/path/to/jextract CUBLASLT_INCLUDE=.../nvidia/cu13/include native-bindings/generate.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
JEXTRACT="${JEXTRACT:-jextract}"
CUDA_INC="${CUDA_INC:-/usr/local/cuda-13.0/include}"
SHARED_INC="${SHARED_INC:-$HERE/../../shared/toolchain/cuda-include}"
CUBLASLT_INCLUDE="${CUBLASLT_INCLUDE:?the folder holding cublasLt.h (in the nvidia-cublas wheel, e.g. nvidia/cu13/include)}"
CLANG_INC="${CLANG_INC:-/usr/lib/llvm-14/lib/clang/14.0.6/include}"
OUT="$HERE/src/main/java"
PKG=dev.fovea.cuda.ffm
rm -rf "$OUT/dev/fovea/cuda/ffm/cudart" "$OUT/dev/fovea/cuda/ffm/cublas" "$OUT/dev/fovea/cuda/ffm/cudnn" "$OUT/dev/fovea/cuda/ffm/nvrtc"

# names: one per line in the lists/ files (functions, structs, typedefs, constants); jextract ignores a name that
# does not exist without a word, so check_generated below fails on any that did not come out.
source "$HERE/jextract-args.sh"

gen() { # lib header class extra-includes...
  local lib=$1 header=$2 cls=$3; shift 3
  mapfile -t a < <(args function "$HERE/lists/$lib.functions"; \
                   [ -f "$HERE/lists/$lib.structs" ] && args struct "$HERE/lists/$lib.structs"; \
                   [ -f "$HERE/lists/$lib.constants" ] && args constant "$HERE/lists/$lib.constants"; \
                   [ -f "$HERE/lists/$lib.typedefs" ] && args typedef "$HERE/lists/$lib.typedefs"; true)
  "$JEXTRACT" -I "$CLANG_INC" -I "$CUDA_INC" "$@" --output "$OUT" --target-package "$PKG.$lib" \
      --header-class-name "$cls" "${a[@]}" "$header"
}

gen cudart "$CUDA_INC/cuda_runtime_api.h" CudaRuntime
gen cublas "$HERE/lists/cublas_all.h" Cublas -I "$SHARED_INC" -I "$CUBLASLT_INCLUDE"
gen cudnn  "$SHARED_INC/cudnn.h" Cudnn -I "$SHARED_INC"
gen nvrtc  "$SHARED_INC/nvrtc.h" Nvrtc -I "$SHARED_INC"

check_generated() { # every listed function must have come out
  local lib=$1 cls=$2 missing=0
  for f in $(grep -v '^#' "$HERE/lists/$lib.functions" | grep -v '^$'); do
    grep -q "public static int $f(\|public static .* $f(" "$OUT/dev/fovea/cuda/ffm/$lib/$cls.java" || { echo "generate.sh: $lib: $f was not generated" >&2; missing=1; }
  done
  return $missing
}
check_generated cudart CudaRuntime && check_generated cublas Cublas && check_generated cudnn Cudnn && check_generated nvrtc Nvrtc
echo "generate.sh: bindings written under $OUT/dev/fovea/cuda/ffm"
