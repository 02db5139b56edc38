#!/usr/bin/env bash
# Large images, path by path (issue 24, item 4): medians of RUNS runs of each path of
# image-bench on a 9000x7000 PNG and JPEG, and `regionchat-cli ask` on them against a small
# image (the whole command: its time and peak RSS, /usr/bin/time).
#   tools/image-bench/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
runs="${2:-5}"
cmake --build "$build" --target image-bench regionchat-cli >/dev/null
bench="$build/app/image-bench"
cli="$build/app/regionchat-cli"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bench" make "$work"
export QT_QPA_PLATFORM=offscreen
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "| file | path | ms (median of $runs) | peak MB over start |"
echo "|---|---|---:|---:|"
for f in big.png big.jpg; do
  for path in decode cli app; do
    : > "$work/runs"
    for _ in $(seq "$runs"); do "$bench" "$path" "$work/$f" >> "$work/runs"; done
    ms=$(sed 's/.*"ms": \([0-9]*\).*/\1/' "$work/runs" | median)
    mb=$(sed 's/.*"peak_mb": \([0-9-]*\).*/\1/' "$work/runs" | median)
    echo "| $f | $path | $ms | $mb |"
  done
done
echo
echo "| regionchat-cli ask on | s (median of $runs) | peak RSS MB |"
echo "|---|---:|---:|"
small="$root/resources/samples/scene_1000000000.png"
for img in "$small" "$work/big.png" "$work/big.jpg"; do
  : > "$work/ask"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/t" "$cli" ask --image "$img" --question "What is this?" \
      --max-new-tokens 1 > /dev/null
    cat "$work/t" >> "$work/ask"
  done
  s=$(cut -d' ' -f1 "$work/ask" | median)
  kb=$(cut -d' ' -f2 "$work/ask" | median)
  echo "| $(basename "$img") | $s | $((kb / 1024)) |"
done
