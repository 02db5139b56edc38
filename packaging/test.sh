#!/usr/bin/env bash
# Installs what is missing, builds everything (Release) and runs the whole CTest suite
# headless, then the fuzz harnesses for a few seconds each (packaging/fuzz.sh). Exit status:
# non-zero when a test or a harness fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${REGIONCHAT_BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

"$root/packaging/install-deps.sh"
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREGIONCHAT_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$jobs"
echo "test.sh: build took $(( $(date +%s) - start )) s"
cd "$build"
export QT_QPA_PLATFORM=offscreen
ctest --output-on-failure -j"$jobs" --timeout 1200
# The fuzz harnesses' smoke run (REGIONCHAT_FUZZ_SECONDS each; 0 skips it): a harness that
# stops building or crashes at once fails the run.
fuzz_seconds="${REGIONCHAT_FUZZ_SECONDS:-10}"
if [ "$fuzz_seconds" -gt 0 ]; then
  "$root/packaging/fuzz.sh" "$fuzz_seconds"
fi
