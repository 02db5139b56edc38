#!/bin/bash
# Builds core/, regionchat-cli and regionchat-train with CUDA on the GPU machine, against the
# LibTorch inside its Python torch and the packed Debian libraries (make-devkit.sh; carry
# .devkit). Usage, from the repository root: tools/device/build.sh [BUILD_DIR]
# Afterwards: export LD_LIBRARY_PATH=/tmp/devkit/lib:$LD_LIBRARY_PATH
set -euo pipefail
build=${1:-build-cuda}
kit=/tmp/devkit
mkdir -p "$kit"
[ -e "$kit/lib/libopencv_core.so.406" ] || tar -C "$kit" -xJf .devkit/devkit.tar.xz
export LD_LIBRARY_PATH=$kit/lib:${LD_LIBRARY_PATH:-}
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$build" -G Ninja -DREGIONCHAT_BUILD_UI=OFF -DREGIONCHAT_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$kit" -DOpenCV_DIR="$kit/lib/cmake/opencv4" \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_BUILD_RPATH="$kit/lib" \
  -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON  # the packed SentencePiece, not a system one
cmake --build "$build" -j"$(nproc)" --target regionchat-cli regionchat-train make-checkpoint
