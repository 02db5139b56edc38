#!/usr/bin/env bash
# Installs what is missing, builds everything (Release) and runs the whole CTest suite
# headless, then the fuzz harnesses for a few seconds each (packaging/fuzz.sh). Exit status:
# non-zero when a test or a harness fails.
#   packaging/test.sh              # what CI runs
#   packaging/test.sh --sanitize   # the whole suite built with ASan + UBSan (LeakSanitizer on)
#                                  # in build-asan/; suppressions: packaging/lsan.supp
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${REGIONCHAT_BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  build="${REGIONCHAT_BUILD_DIR:-$root/build-asan}"
fi

"$root/packaging/install-deps.sh"
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREGIONCHAT_BUILD_TESTS=ON \
  -DREGIONCHAT_SANITIZE=$([ $sanitize = 1 ] && echo ON || echo OFF) >/dev/null
cmake --build "$build" -j"$jobs"
echo "test.sh: build took $(( $(date +%s) - start )) s"
cd "$build"
export QT_QPA_PLATFORM=offscreen
if [ $sanitize = 1 ]; then
  # alloc_dealloc_mismatch=0: libstdc++'s operator new, bound inside the deep-bound SentencePiece
  # plugin (tokenizer.cpp open_deep), reaches ASan through malloc, so its blocks look malloc'ed
  # when our code deletes them. Every other report fails the test.
  export ASAN_OPTIONS="detect_leaks=1:alloc_dealloc_mismatch=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/packaging/lsan.supp:print_suppressions=1"
  ctest --output-on-failure -j"$jobs" --timeout 3600
  exit 0
fi
ctest --output-on-failure -j"$jobs" --timeout 1200
# The fuzz harnesses' smoke run (REGIONCHAT_FUZZ_SECONDS each; 0 skips it): a harness that
# stops building or crashes at once fails the run.
fuzz_seconds="${REGIONCHAT_FUZZ_SECONDS:-10}"
if [ "$fuzz_seconds" -gt 0 ]; then
  "$root/packaging/fuzz.sh" "$fuzz_seconds"
fi
