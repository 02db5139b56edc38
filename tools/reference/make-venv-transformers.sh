#!/usr/bin/env bash
# Recreates the Python environment that writes the transformers parity fixtures
# (tests/reference/make_reference.py, tools/reference/llava_end_to_end.py).
#
#   tools/reference/make-venv-transformers.sh [VENV_DIR]     (default /work/venv-ref)
#
# PyPI torch (CPU is enough) and a current transformers; the versions that made the
# committed fixtures are in each fixture's safetensors metadata.
set -euo pipefail
VENV="${1:-/work/venv-ref}"
PY="${PYTHON:-python3}"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install torch transformers sentencepiece safetensors numpy pillow protobuf
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
