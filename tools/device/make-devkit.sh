#!/bin/bash
# Packs what a build of core/ and the CLI needs on the GPU machine (which has CUDA, CMake
# and PyTorch's LibTorch, but no Debian packages) into .devkit/devkit.tar.xz: Debian
# bookworm's OpenCV core/imgproc headers and libraries with their dependencies,
# SentencePiece and nlohmann_json, and a stand-in imgcodecs (imgcodecs_stub.cpp: real JPEG
# through libjpeg-turbo, nothing else). Unpack it
# there and build with tools/device/build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tools/device
kit=$(mktemp -d)
trap 'rm -rf "$kit"' EXIT
mkdir -p "$kit"/{lib,include,share/cmake} "$kit"/lib/cmake/opencv4
cp -r /usr/include/opencv4 /usr/include/nlohmann /usr/include/sentencepiece_*.h "$kit"/include/
cp -r /usr/share/cmake/nlohmann_json "$kit"/share/cmake/
cp "$here"/OpenCVConfig.cmake "$kit"/lib/cmake/opencv4/
libs="libopencv_core.so.406 libopencv_imgproc.so.406 libsentencepiece.so.0
      libsentencepiece_train.so.0 libjpeg.so.62"
# Their dependencies, less the C and C++ runtimes every Linux has.
deps=$(for l in $libs; do ldd "/usr/lib/x86_64-linux-gnu/$l"; done | awk '/=>/ {print $1}' |
       grep -Ev '^(libc|libm|libstdc\+\+|libgcc_s|ld-linux.*)\.so' | sort -u)
for l in $libs $deps; do
  cp -L "$(ldconfig -p | awk -v n="$l" '$1 == n {print $NF; exit}')" "$kit/lib/$l"
done
ln -s libsentencepiece.so.0 "$kit"/lib/libsentencepiece.so
ln -s libsentencepiece_train.so.0 "$kit"/lib/libsentencepiece_train.so
g++ -O2 -shared -fPIC -Wl,-soname,libopencv_imgcodecs.so.406 "$here"/imgcodecs_stub.cpp \
  -I/usr/include/opencv4 -lopencv_core -ljpeg -o "$kit"/lib/libopencv_imgcodecs.so.406
mkdir -p "$root"/.devkit
tar -C "$kit" -cJf "$root"/.devkit/devkit.tar.xz .
ls -l "$root"/.devkit/devkit.tar.xz
