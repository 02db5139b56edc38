#!/usr/bin/env bash
# Recreates the Python environment that runs DualFocus' own evaluation code
# (InternLM-XComposer projects/DualFocus pins transformers 4.31.0) for
# tools/reference/dualfocus_reference.py.
#
#   tools/reference/make-venv-dualfocus.sh [VENV_DIR]     (default /work/venv-df)
#
# These pins are the set that was installed and run on Python 3.11 (CPU only).
# DualFocus itself pins torch 2.0.1; transformers 4.31.0 imports and runs with
# torch 2.15.0 (the PyPI wheel; its CUDA libraries are installed but unused).
# accelerate is needed because DualFocus' builder passes device_map and
# low_cpu_mem_usage=True; einops, requests, shortuuid and tqdm because its
# modules import them at load time. numpy stays below 2 for transformers 4.31.
set -euo pipefail
VENV="${1:-/work/venv-df}"
PY="${PYTHON:-python3}"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install \
    torch==2.15.0 \
    transformers==4.31.0 \
    tokenizers==0.13.3 \
    sentencepiece==0.1.99 \
    accelerate==0.21.0 \
    huggingface-hub==0.16.4 \
    numpy==1.26.4 \
    safetensors==0.8.0 \
    pillow==13.0.0 \
    protobuf==7.36.2 \
    einops==0.8.2 \
    requests==2.34.2 \
    shortuuid==1.0.13 \
    tqdm==4.70.1
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
