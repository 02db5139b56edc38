#!/usr/bin/env bash
# Recreates the Python environment that runs Pink's OWN model code (SY-Xuan/Pink, whose
# pyproject.toml pins torch 2.2.2 and transformers 4.38.2) for
# tools/reference/pink_reference.py.
#
#   tools/reference/make-venv-pink.sh [VENV_DIR]     (default /work/venv-pink)
#
# The pins are Pink's own (torch, transformers) and, for the rest, releases of the same
# time (March 2024) that transformers 4.38.2 and torch 2.2.2 accept, installed and run on
# Python 3.11, CPU only (the PyPI torch wheel; its CUDA libraries are installed but unused).
# - torchvision 0.17.2 (the release paired with torch 2.2.2): Pink's image processing is
#   torchvision.transforms (Resize BICUBIC, ToTensor, Normalize).
# - timm 0.9.16: pink/model/adapter.py imports pink/model/eva_vit.py, which imports
#   timm.models.layers and timm.models.registry at top level (EVA is not used by Pink's
#   CLIP models, but the import must succeed).
# - protobuf: the slow LlamaTokenizer with legacy=false (the LLaMA-2 tokenizer_config.json)
#   rewrites the SentencePiece model's normalizer through protobuf.
# - numpy below 2: torch 2.2.2 was built against numpy 1.x.
# Pink's other dependencies (gradio, fastapi, uvicorn, markdown2, accelerate, requests)
# serve its web demo and training only and are not imported by the reference script.
set -euo pipefail
VENV="${1:-/work/venv-pink}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install \
    torch==2.2.2 \
    torchvision==0.17.2 \
    transformers==4.38.2 \
    tokenizers==0.15.2 \
    huggingface-hub==0.21.4 \
    safetensors==0.4.2 \
    sentencepiece==0.2.0 \
    protobuf==4.25.3 \
    numpy==1.26.4 \
    pillow==10.2.0 \
    timm==0.9.16
"$VENV/bin/python" -c "import torch, torchvision, transformers; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'transformers', transformers.__version__)"
