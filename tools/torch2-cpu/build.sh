#!/usr/bin/env bash
# Builds regionchat-cli against the LibTorch inside PyPI's torch 2.x (CPU half only), beside
# the Debian build, to measure the same code on both LibTorch versions (README, "Side by side
# with transformers, llama.cpp and vLLM (CPU)"). Not part of the README's two commands.
#
#   tools/torch2-cpu/build.sh [WORK_DIR] [BUILD_DIR]     (defaults: /work/torch2, build-torch2)
#   then: LD_LIBRARY_PATH=WORK_DIR/cudalibs BUILD_DIR/app/regionchat-cli speed ...
#
# Downloads (PyPI, no install): torch 2.9.1 for CPython 3.11 (about 900 MB; only its lib/ and
# include/ are unpacked) and the CUDA runtime and CUPTI wheels whose two libraries
# libtorch_cpu.so links (no GPU is used).
set -euo pipefail
work=${1:-/work/torch2}
build=${2:-build-torch2}
version=2.9.1 cuda=12.8.90
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$work" && cd "$work"
pip_dl() { python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d . "$@"; }
[ -e "torch-$version-cp311-cp311-manylinux_2_28_x86_64.whl" ] || pip_dl "torch==$version"
[ -e torch/lib/libtorch_cpu.so ] ||
  python3 -m zipfile -e "torch-$version-cp311-cp311-manylinux_2_28_x86_64.whl" . >/dev/null
if [ ! -e cudalibs/libcupti.so.12 ]; then
  pip_dl "nvidia-cuda-runtime-cu12==$cuda" "nvidia-cuda-cupti-cu12==$cuda"
  for w in nvidia_cuda_runtime_cu12-*.whl nvidia_cuda_cupti_cu12-*.whl; do python3 -m zipfile -e "$w" .; done
  mkdir -p cudalibs
  cp nvidia/cuda_runtime/lib/libcudart.so.12 nvidia/cuda_cupti/lib/libcupti.so.12 cudalibs/
fi
cd "$root"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREGIONCHAT_BUILD_UI=OFF \
  -DREGIONCHAT_BUILD_TESTS=OFF -DTorch_DIR="$here" -DTORCH_WHEEL_ROOT="$work/torch" \
  -DCMAKE_BUILD_RPATH="$work/torch/lib;$work/cudalibs"
cmake --build "$build" -j2 --target regionchat-cli
echo "built $build/app/regionchat-cli against LibTorch $version (run it with LD_LIBRARY_PATH=$work/cudalibs if the rpath is lost)"
