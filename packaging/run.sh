#!/usr/bin/env bash
# RegionChat on a fresh machine: installs what is missing, builds Release, and starts the
# main job on the embedded model with a sample image.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${REGIONCHAT_BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

"$root/packaging/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$jobs" --target regionchat regionchat-cli

model="$root/resources/models/shapes-tiny"
sample="$root/resources/samples/scene_1000000000.png"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$build/app/regionchat" --model "$model" "$sample" "$@"
fi

# No display: the command line answers region questions about the sample instead (its red
# circle is at pixels 154,175-221,242).
echo "run.sh: no display found (DISPLAY/WAYLAND_DISPLAY unset); showing the model on the command line."
cli="$build/app/regionchat-cli"
echo "== $sample"
echo "Q: What is in the region <region>?   (region = the box 154,175,221,242)"
printf 'A: '
"$cli" ask --model "$model" --image "$sample" --box 154,175,221,242 \
  --question "What is in the region <region>?"
echo "Q: Where is the red circle?"
printf 'A: '
"$cli" ask --model "$model" --image "$sample" --question "Where is the red circle?"
