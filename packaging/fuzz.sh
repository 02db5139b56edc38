#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang-14 (-fsanitize=fuzzer,address,
# undefined) and runs each for SECONDS (default 60) from a copy of its seed corpus, printing
# execs, coverage and crashes per harness. Exit status 1 when any harness crashed, leaked, hit a
# sanitizer report or a 1 s input. Crashing inputs are kept under $FUZZ_OUT (default
# build-fuzz/findings/<harness>/).
#   packaging/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
build="${REGIONCHAT_FUZZ_DIR:-$root/build-fuzz}"
out="${FUZZ_OUT:-$build/findings}"

"$root/packaging/install-deps.sh"
CC=clang-14 CXX=clang++-14 cmake -S "$root/tests/fuzz" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}"

harnesses=(fuzz_safetensors fuzz_torch_checkpoint fuzz_region_formats fuzz_chat_template
           fuzz_image_decode fuzz_sse fuzz_bench_loaders)
declare -A dict=([fuzz_safetensors]=json.dict [fuzz_torch_checkpoint]=pickle.dict
                 [fuzz_bench_loaders]=json.dict [fuzz_sse]=json.dict)
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
printf '%-24s %12s %8s %8s %s\n' harness execs cov ft result
for h in "${harnesses[@]}"; do
    work="$build/corpus/$h"
    rm -rf "$work" && mkdir -p "$work" "$out/$h"
    cp "$root/tests/fuzz/corpus/$h/"* "$work/"
    extra=()
    [ -n "${dict[$h]:-}" ] && extra+=("-dict=$root/tests/fuzz/${dict[$h]}")
    log="$build/$h.log"
    status=0
    "$build/$h" "$work" "${extra[@]}" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2560 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/$h/" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    result=ok
    if [ "$status" -ne 0 ]; then
        result="FAILED (exit $status; $log, inputs in $out/$h/)"
        failed=1
    fi
    printf '%-24s %12s %8s %8s %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $failed
