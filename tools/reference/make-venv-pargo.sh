#!/usr/bin/env bash
# The Python environment that runs ParGo's OWN model code (bytedance/ParGo, fetched; its
# requirements.txt pins transformers 4.33.2 and Pillow 9.3.0 and names torch 2.0.1) for
# tools/reference/pargo_reference.py.
#
#   tools/reference/make-venv-pargo.sh [VENV_DIR]     (default /work/venv-pargo)
#
# CPU only (the PyPI torch wheel; its CUDA libraries are installed but unused). ParGo's
# xformers and apex are not installed: the reference script gives the attention xformers would
# run as plain softmax(q k^T / sqrt(d)) v (the same math) and ParGo's eva_vit.py falls back to
# its own LayerNorm when apex is missing. peft 0.6.2 (October 2023, the release after
# transformers 4.33) wraps InternLM2's wqkv in LoRA exactly as ParGo's init_models.py does.
set -euo pipefail
VENV="${1:-/work/venv-pargo}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install \
    torch==2.0.1 \
    transformers==4.33.2 \
    tokenizers==0.13.3 \
    peft==0.6.2 \
    accelerate==0.31.0 \
    timm==0.9.16 \
    einops==0.7.0 \
    sentencepiece==0.1.99 \
    protobuf==4.25.3 \
    safetensors==0.4.2 \
    numpy==1.26.4 \
    Pillow==9.3.0
"$VENV/bin/python" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
