#!/usr/bin/env bash
# llama.cpp for tools/peers/run_peers.sh: PyPI's llama-cpp-python (builds llama.cpp from source,
# CPU only, about 15 minutes on 2 cores) with its OpenAI-compatible server, and the gguf writer
# tools/peers/make_gguf.py uses. Not used by the product, its two README commands or CI.
#
#   tools/peers/make-venv-llamacpp.sh [VENV_DIR]        (default /work/venv-llamacpp)
set -euo pipefail
VENV="${1:-/work/venv-llamacpp}"
PY="${PYTHON:-python3}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install numpy safetensors sentencepiece gguf
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \
  "$VENV/bin/pip" install --no-cache-dir "llama-cpp-python[server]==$VERSION"
"$VENV/bin/python" -c "import llama_cpp, gguf; print('llama-cpp-python', llama_cpp.__version__)"
