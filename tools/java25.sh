# Sourced by ./fovea and ./run-tests: sets JAVA_HOME to a Java 25+ (JAVA_HOME first, then /usr/lib/jvm/*) or exits.
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
find_java25() {
  local h v
  for h in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/*; do
    [ -x "$h/bin/java" ] || continue
    v=$(java_major "$h/bin/java")
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then echo "$h"; return 0; fi
  done
  return 1
}
if ! FOVEA_JH=$(find_java25); then
  echo "fovea: needs Java 25 or newer; none found in JAVA_HOME (${JAVA_HOME:-unset}) or /usr/lib/jvm/*." >&2
  echo "       Install one (e.g. Eclipse Temurin 25) and set JAVA_HOME to it." >&2
  exit 1
fi
export JAVA_HOME="$FOVEA_JH"
# The nvidia-* wheels that tools/cuda-wheels.sh installs into the checkout's .venv: found by the CUDA loader through
# VIRTUAL_ENV (an activated environment the user chose wins)
if [ -z "${VIRTUAL_ENV:-}" ]; then
  for _v in "$(dirname "${BASH_SOURCE[0]}")/../.venv"; do
    if ls "$_v"/lib/python3*/site-packages/nvidia >/dev/null 2>&1; then export VIRTUAL_ENV="$(cd "$_v" && pwd)"; fi
  done
fi
