#!/usr/bin/env bash
# The same `regionchat-cli speed` on two builds (Debian's LibTorch and torch 2.x's), the two
# alternating run by run so the shared machine's load falls on both alike. One JSON line per
# run, with "build" and "round" added.
#
#   tools/torch2-cpu/ab.sh BUILD_A BUILD_B ROUNDS "DTYPES" [speed options...] > out.jsonl
#   e.g. tools/torch2-cpu/ab.sh build build-torch2 3 "fp32 bf16 int8" --runs 5
set -euo pipefail
a=$1 b=$2 rounds=$3 dtypes=$4
shift 4
for r in $(seq 1 "$rounds"); do
  for d in $dtypes; do
    for build in "$a" "$b"; do
      "$build/app/regionchat-cli" speed --dtype "$d" --json "$@" 2>/dev/null |
        python3 -c 'import json, sys; j = json.load(sys.stdin); j["build"] = sys.argv[1]; j["round"] = int(sys.argv[2]); print(json.dumps(j))' "$build" "$r"
    done
  done
done
