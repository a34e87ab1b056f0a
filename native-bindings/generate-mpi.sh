#!/usr/bin/env bash
# Regenerates the FFM bindings of MPI under src/main/java/dev/fovea/mpi/ffm with jextract (the same jextract as
# generate.sh: openjdk/jextract f9866df built with Temurin 25, run against Debian 12's libclang 14.0.6).
#
# Header: Open MPI 4.1.4's mpi.h from Debian 12 (apt-get install libopenmpi-dev). Open MPI's predefined handles
# (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are addresses of its global objects (ompi_mpi_comm_world, ...), which
# jextract cannot turn into constants: MpiLibrary looks them up by name. Generated without -l, as the CUDA ones:
# the classes look symbols up in the library MpiLibrary loaded.
#
# Usage: JEXTRACT=/path/to/jextract native-bindings/generate-mpi.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
JEXTRACT="${JEXTRACT:-jextract}"
MPI_INC="${MPI_INC:-/usr/lib/x86_64-linux-gnu/openmpi/include}"
CLANG_INC="${CLANG_INC:-/usr/lib/llvm-14/lib/clang/14.0.6/include}"
OUT="$HERE/src/main/java"
rm -rf "$OUT/dev/fovea/mpi/ffm"
source "$HERE/jextract-args.sh"
mapfile -t a < <(args function "$HERE/lists/mpi.functions"; args constant "$HERE/lists/mpi.constants")
"$JEXTRACT" -I "$CLANG_INC" -I "$MPI_INC" --output "$OUT" --target-package dev.fovea.mpi.ffm --header-class-name Mpi "${a[@]}" "$MPI_INC/mpi.h"
missing=0
for f in $(grep -v '^#' "$HERE/lists/mpi.functions" | grep -v '^$'); do
  grep -q "public static .* $f(" "$OUT/dev/fovea/mpi/ffm/Mpi.java" || { echo "generate-mpi.sh: $f was not generated" >&2; missing=1; }
done
[ $missing = 0 ] && echo "generate-mpi.sh: bindings written under $OUT/dev/fovea/mpi/ffm"
