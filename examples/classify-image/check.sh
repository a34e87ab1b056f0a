#!/usr/bin/env bash
# Builds this example against the installed Fovea artifacts (run `mvn install -DskipTests` in the repository first)
# and checks that it answers as `fovea predict` does: a checkpoint of one short epoch of LeNet-5, an ankle boot drawn
# dark on white at 112x112 (the classifier inverts and shrinks it) and a 97x61 colour picture (cropped, made grey).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/tools/java25.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$ROOT/fovea" train --epochs 1 --limit 2000 --out "$work/run" > "$work/train.txt"
ckpt="$work/run/checkpoint.safetensors"
images=("$HERE/ankle-boot.png" "$ROOT/tests/src/test/resources/fixtures/preprocess_a.png")

mvn -B -q -ntp -f "$HERE/pom.xml" compile exec:exec -Dexample.args="$ckpt ${images[*]}" > "$work/example.txt"
"$ROOT/fovea" predict --weights "$ckpt" --top 3 "${images[@]}" > "$work/cli.txt"
cat "$work/example.txt"
for img in "${images[@]}"; do
  a="$(awk -v p="$img:" 'index($0, p) == 1' "$work/example.txt")"
  b="$(awk -v p="$img:" 'index($0, p) == 1' "$work/cli.txt")"
  [ -n "$a" ] || { echo "check: the example printed nothing for $img" >&2; exit 1; }
  [ "$a" = "$b" ] || { printf 'check: the example and fovea predict differ:\n  %s\n  %s\n' "$a" "$b" >&2; exit 1; }
done
echo "check: the example's answers equal fovea predict's for ${#images[@]} images"
