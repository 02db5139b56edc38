#!/usr/bin/env bash
# The same `regionchat-cli speed` on two builds (Debian's LibTorch and torch 2.x's), the two
# alternating run by run so the shared machine's load falls on both alike. One JSON line per
# run, with "build" and "round" added.
#
#   tools/torch2-cpu/ab.sh BUILD_A BUILD_B ROUNDS "DTYPES" [speed options...] > out.jsonl
#   e.g. tools/torch2-cpu/ab.sh build build-torch2 3 "fp32 bf16 int8" --runs 5
# ENV_A / ENV_B: environment settings for one side only (then "build" is the directory and the
# setting), e.g. the same build twice with ENV_A=REGIONCHAT_KERNELS_ISA=avx512. A run that
# fails stops the script with its messages and status 1.
set -euo pipefail
a=$1 b=$2 rounds=$3 dtypes=$4
shift 4
err=$(mktemp)  # a failed run's messages, shown before the script stops
trap 'rm -f "$err"' EXIT
for r in $(seq 1 "$rounds"); do
  for d in $dtypes; do
    # A first in odd rounds, B first in even ones: whatever the first run of a pair pays
    # (or gains) falls on both sides alike.
    sides="A B"; [ $((r % 2)) = 0 ] && sides="B A"
    for side in $sides; do
      if [ "$side" = A ]; then build=$a envs=${ENV_A:-}; else build=$b envs=${ENV_B:-}; fi
      label=$build${envs:+ $envs}
      # shellcheck disable=SC2086
      if ! json=$(env $envs "$build/app/regionchat-cli" speed --dtype "$d" --json "$@" 2>"$err"); then
        echo "ab.sh: $label, $d, round $r failed:" >&2
        cat "$err" >&2
        exit 1
      fi
      printf '%s\n' "$json" |
        python3 -c 'import json, sys; j = json.load(sys.stdin); j["build"] = sys.argv[1]; j["round"] = int(sys.argv[2]); print(json.dumps(j))' "$label" "$r"
    done
  done
done
