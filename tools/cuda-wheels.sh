#!/usr/bin/env bash
# Installs the NVIDIA libraries Fovea's CUDA backend uses, as the nvidia-* Python wheels PyTorch also uses, into a
# virtual environment (default .venv): NVRTC 13.0, cuBLAS 13.1, cuDNN 9, NCCL 2.30 (data-parallel training on GPUs). The machine's pip store is used offline
# when it has them. ./fovea and ./run-tests find .venv by themselves; elsewhere activate it (VIRTUAL_ENV) or set
# FOVEA_CUDA_LIBS. A GPU machine needs these plus the driver; a CPU machine uses them to compile and link-check.
set -euo pipefail
VENV=${1:-.venv}
WHEELS=(nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.1.1.3 nvidia-cudnn-cu13==9.24.0.43 nvidia-nccl-cu13==2.30.7)
if [ -d "$VENV/lib" ] && ls "$VENV"/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.9 >/dev/null 2>&1 \
   && ls "$VENV"/lib/python3*/site-packages/nvidia/cu13/lib/libnvrtc.so.13 >/dev/null 2>&1 \
   && ls "$VENV"/lib/python3*/site-packages/nvidia/cu13/lib/libcublas.so.13 >/dev/null 2>&1 \
   && ls "$VENV"/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2 >/dev/null 2>&1; then
  echo "cuda-wheels: already in $VENV"; exit 0
fi
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
links=()
for d in /opt/wheels /opt/pypi-more/files /opt/pypi/files; do [ -d "$d" ] && links+=(--find-links "$d"); done
echo "cuda-wheels: installing ${WHEELS[*]} into $VENV (about 1.5 GB)"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-index "${links[@]}" "${WHEELS[@]}" 2>/dev/null \
  || "$VENV/bin/pip" install -q --disable-pip-version-check "${WHEELS[@]}"
