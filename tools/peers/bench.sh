#!/usr/bin/env bash
# Speed side by side (issue 24): RegionChat in process and the engines a user would run instead,
# on the same model, one after another in one run, each figure a median of $RUNS runs after a
# warm-up: image encode, time to first token, decode tokens/s (every answer exactly
# $NEW_TOKENS tokens, greedy), the second turn's time to first token (its KV cache kept), peak
# RSS of the process. The prompt is regionchat-cli speed's: the image's tokens and
# $TEXT_TOKENS text tokens (the chat template's included); every peer gets a prompt of the same
# total length and a second turn of the same number of new tokens.
#
#   tools/peers/bench.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, bench-out)
#   env: MODELS="tiny 1b" RUNS=5 NEW_TOKENS=32 TEXT_TOKENS=50 PEERS="transformers llamacpp vllm"
#        VENV=/work/venv-peers LLAMA_VENV=/work/venv-llamacpp VLLM_VENV=/work/venv-vllm
#
# Models: "tiny", the embedded model as a llava-hf folder (tools/peers/llava_folder.sh), and
# "1b", a 1.1 B-parameter LLaVA of random weights (make-checkpoint DIR 1b; kept in OUT_DIR).
# Precisions: RegionChat fp32, bf16 and int8; transformers fp32 and bf16; llama.cpp F32, BF16
# and Q8_0 GGUFs (tools/peers/make_gguf.py, then llama.cpp's own quantiser); vLLM's CPU build
# in bf16 where it runs. Writes OUT_DIR/results.jsonl and OUT_DIR/table.md
# (tools/peers/bench_table.py). A peer whose virtualenv is missing is skipped with a line saying
# so. A peer run that crashes or prints no result is named on stderr, the other rows are still
# measured and tabled, and the script then exits with status 1. Not run by CI (the peers are
# large PyPI installs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=llava_folder.sh
source "$root/tools/peers/llava_folder.sh"
build="$(realpath "${1:-$root/build}")"
out="$(realpath -m "${2:-bench-out}")"
models="${MODELS:-tiny 1b}"
runs="${RUNS:-5}"
new_tokens="${NEW_TOKENS:-32}"
text_tokens="${TEXT_TOKENS:-50}"
peers="${PEERS-transformers llamacpp vllm}"  # PEERS="" runs RegionChat alone
venv="${VENV:-/work/venv-peers}"
llama_venv="${LLAMA_VENV:-/work/venv-llamacpp}"
vllm_venv="${VLLM_VENV:-/work/venv-vllm}"
cli="$build/app/regionchat-cli"
mkdir -p "$out/models"
results="$out/results.jsonl"
: > "$results"
has() { [[ " $peers " == *" $1 "* ]]; }
failed=()  # peers that gave no result: named after the table, and the exit status is 1
fail() { echo "bench.sh: $1" >&2; failed+=("$1"); }

record() {  # MODEL: one JSON line from stdin into results.jsonl, with the model's name; fails
            # quietly on no line (a peer that crashed), for the caller's "failed" message
  python3 -c '
import json, sys
text = sys.stdin.read().strip()
if not text:
    sys.exit(1)
r = json.loads(text)
r["model"] = sys.argv[1]
print(json.dumps(r))' "$1" | tee -a "$results"
}

for name in $models; do
  dir="$out/models/$name"
  case "$name" in
    tiny) rm -rf "$dir"; tiny_llava_hf "$root" "$dir" ;;
    1b) [ -f "$dir/model.safetensors" ] || "$build/tests/make-checkpoint" "$dir" 1b ;;
    *) echo "bench.sh: unknown model '$name' (tiny or 1b)" >&2; exit 2 ;;
  esac
  echo "== $name"
  declare -A prompt=() second=()
  for dtype in fp32 bf16 int8; do
    "$cli" speed --model "$dir" --dtype "$dtype" --runs "$runs" --text-tokens "$text_tokens" \
      --new-tokens "$new_tokens" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps({
    "engine": "RegionChat", "version": sys.argv[2], "threads": None, "dtype": sys.argv[1],
    "runs": s["runs"], "load_s": round(s["load_ms"] / 1000, 2), "prompt_tokens": s["prompt_tokens"],
    "new_tokens": s["generated_tokens"], "encode_ms": round(s["median_image_encode_ms"], 1),
    "first_token_ms": round(s["median_first_token_ms"], 1),
    "decode_tokens_per_s": round(s["median_decode_tokens_per_s"], 2),
    "second_turn_first_token_ms": round(s["median_second_turn_first_token_ms"], 1),
    "second_turn_new_tokens": s["second_turn_new_tokens"],
    "peak_rss_mb": round(s["peak_rss_bytes"] / 2**20),
    "bandwidth_bound_tokens_per_s": round(s["bandwidth_bound_tokens_per_s"], 2)}))' \
      "$dtype" "$("$cli" --version | head -1)" | record "$name" > "$out/last.json"
    cat "$out/last.json"
    prompt[$name]="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt_tokens"])' "$out/last.json")"
    second[$name]="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["second_turn_new_tokens"])' "$out/last.json")"
  done
  common=(--runs "$runs" --prompt-tokens "${prompt[$name]}" --new-tokens "$new_tokens"
          --second-tokens "${second[$name]}" --json)

  if has transformers; then
    if [ -x "$venv/bin/python" ]; then
      for dtype in fp32 bf16; do
        "$venv/bin/python" "$root/tools/peers/bench_transformers.py" "$dir" --dtype "$dtype" \
          "${common[@]}" | tail -n 1 | record "$name" ||
          fail "transformers ($dtype) failed on $name"
      done
    else
      echo "transformers: no virtualenv at $venv (tools/peers/make-venv-peers.sh makes it)"
    fi
  fi

  if has llamacpp; then
    if [ -x "$llama_venv/bin/python" ]; then
      gg="$out/models/$name-gguf"
      if [ ! -f "$gg/text-q8_0.gguf" ]; then
        "$llama_venv/bin/python" "$root/tools/peers/make_gguf.py" "$dir" "$gg"
        "$llama_venv/bin/python" "$root/tools/peers/quantize_gguf.py" "$gg/text-f32.gguf" \
          "$gg/text-bf16.gguf" bf16
        "$llama_venv/bin/python" "$root/tools/peers/quantize_gguf.py" "$gg/text-f32.gguf" \
          "$gg/text-q8_0.gguf" q8_0
      fi
      for q in f32 bf16 q8_0; do
        "$llama_venv/bin/python" "$root/tools/peers/bench_llamacpp.py" "$gg/text-$q.gguf" \
          --mmproj "$gg/mmproj-f32.gguf" --label "$q" "${common[@]}" 2>>"$out/peers.log" |
          tail -n 1 | record "$name" || fail "llama.cpp ($q) failed on $name (its log: $out/peers.log)"
      done
    else
      echo "llama.cpp: no virtualenv at $llama_venv (tools/peers/make-venv-llamacpp.sh makes it)"
    fi
  fi

  if has vllm; then
    if [ -x "$vllm_venv/bin/python" ]; then
      for dtype in fp32 bf16; do
        VLLM_ENABLE_V1_MULTIPROCESSING=0 VLLM_CPU_KVCACHE_SPACE=1 \
          "$vllm_venv/bin/python" "$root/tools/peers/bench_vllm.py" "$dir" --dtype "$dtype" \
          "${common[@]}" | tail -n 1 | record "$name" || fail "vLLM ($dtype) failed on $name"
      done
    else
      echo "vLLM: no virtualenv at $vllm_venv (tools/peers/make-venv-vllm.sh makes it)"
    fi
  fi
  unset prompt second
done
python3 "$root/tools/peers/bench_table.py" "$results" > "$out/table.md"
cat "$out/table.md"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'bench.sh: no result from: %s\n' "${failed[@]}" >&2
  exit 1
fi
