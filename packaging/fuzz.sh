#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang-14 (-fsanitize=fuzzer,address,
# undefined) and runs each for SECONDS (default 60), or until RUNS inputs when given, from a
# copy of its seed corpus, printing execs, coverage, the slowest input and the result per
# harness. Exit status 1 when any harness crashed, leaked, hit a
# sanitizer report or a 1 s input. Crashing inputs are kept under $FUZZ_OUT (default
# build-fuzz/findings/<harness>/).
#   packaging/fuzz.sh [SECONDS] [RUNS]
#   packaging/fuzz.sh 600 1000000   # the acceptance run: 10 minutes or 1 M inputs each
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
runs="${2:--1}"
build="${REGIONCHAT_FUZZ_DIR:-$root/build-fuzz}"
out="${FUZZ_OUT:-$build/findings}"

"$root/packaging/install-deps.sh"
CC=clang-14 CXX=clang++-14 cmake -S "$root/tests/fuzz" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}"

harnesses=(fuzz_safetensors fuzz_torch_checkpoint fuzz_region_formats fuzz_chat_template
           fuzz_image_decode fuzz_sse fuzz_bench_loaders fuzz_configs fuzz_tokenizer_model
           fuzz_server_request fuzz_session)
declare -A dict=([fuzz_safetensors]=json.dict [fuzz_torch_checkpoint]=pickle.dict
                 [fuzz_bench_loaders]=json.dict [fuzz_sse]=json.dict [fuzz_configs]=json.dict
                 [fuzz_server_request]=json.dict [fuzz_session]=json.dict)
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
printf '%-24s %10s %7s %7s %6s %6s %s\n' harness execs seconds slowest cov ft result
for h in "${harnesses[@]}"; do
    work="$build/corpus/$h"
    rm -rf "$work" && mkdir -p "$work" "$out/$h"
    cp "$root/tests/fuzz/corpus/$h/"* "$work/"
    extra=()
    [ -n "${dict[$h]:-}" ] && extra+=("-dict=$root/tests/fuzz/${dict[$h]}")
    log="$build/$h.log"
    status=0
    start=$SECONDS
    "$build/$h" "$work" "${extra[@]}" -max_total_time="$seconds" -runs="$runs" -timeout=1 -rss_limit_mb=2560 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/$h/" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    result=ok
    if [ "$status" -ne 0 ]; then
        result="FAILED (exit $status; $log, inputs in $out/$h/)"
        failed=1
    fi
    slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    printf '%-24s %10s %7s %7s %6s %6s %s\n' "$h" "${execs:-?}" "$((SECONDS - start))" \
        "${slowest:-?}s" "${cov:-?}" "${ft:-?}" "$result"
done
exit $failed
