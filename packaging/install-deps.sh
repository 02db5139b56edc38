#!/usr/bin/env bash
# Installs every Debian package RegionChat needs to build, run and test.
# `install-deps.sh deb` adds the tools packaging/deb.sh and packaging/install-test.sh use.
# Safe to run twice: apt-get skips what is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev libgl1-mesa-dev qtkeychain-qt6-dev
  libtorch-dev libopenblas0-pthread
  libopencv-dev
  libsentencepiece-dev sentencepiece
  nlohmann-json3-dev libcpp-httplib-dev
  xvfb xauth imagemagick fonts-dejavu-core
  clang-14 libclang-rt-14-dev   # packaging/fuzz.sh: libFuzzer with ASan and UBSan
  desktop-file-utils appstream shared-mime-info groff-base   # test_packaging's validators
)
if [ "${1:-}" = "deb" ]; then
  PACKAGES+=(dpkg-dev file lintian debootstrap)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
