#!/bin/sh
# Writes the tiny CoLVA checkpoint (merged layout, from the committed reference fixtures) and a
# 10-case MMVM sample in MMVMEvalKit's layout into OUT, then runs regionchat-cli bench on them.
#   tools/colva-sample.sh [OUT] [BUILD]     (defaults: /tmp/colva-sample, build)
set -eu
OUT=${1:-/tmp/colva-sample}
BUILD=${2:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
REGIONCHAT_SOURCE_DIR="$ROOT" REGIONCHAT_CLI="$BUILD/app/regionchat-cli" REGIONCHAT_COLVA_OUT="$OUT" \
    QT_QPA_PLATFORM=offscreen "$BUILD/tests/test_colva" cliBenchMmvm >/dev/null
echo "tiny CoLVA: $OUT/colva-tiny   MMVM sample: $OUT/mmvm-sample"
"$BUILD/app/regionchat-cli" bench --format mmvm --root "$OUT/mmvm-sample" --model "$OUT/colva-tiny" \
    --output "$OUT/results" --max-new-tokens 8
