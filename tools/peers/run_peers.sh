#!/usr/bin/env bash
# Serves the embedded model with a peer engine and asks it the same conversation through
# RegionChat's remote backend (regionchat-cli ask --server) and through the local engine,
# printing answers and timings side by side.
#
#   tools/peers/run_peers.sh [BUILD_DIR] [VENV_DIR] [VLLM_VENV]
#        (defaults: build, /work/venv-peers, /work/venv-vllm)
#
# Peers: `regionchat-cli serve`, `transformers serve` and vLLM's CPU build (`vllm serve`), all on
# the embedded weights in one llava-hf folder (the llava-e2e fixture's config, processor and
# LLaMA-normaliser tokenizer, plus a vicuna_v1 chat template). Not run by CI (large installs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
venv="${2:-/work/venv-peers}"
vllm_venv="${3:-/work/venv-vllm}"
cli="$build/app/regionchat-cli"
image="$root/resources/samples/scene_1000000000.png"
work="$(mktemp -d)"
pids=()
failed=0  # a peer that was installed but failed makes the script exit 1
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The model folder transformers serves.
model="$work/shapes-tiny-hf"
mkdir -p "$model"
cp "$root"/tests/reference/llava-e2e/model/* "$model/"
cp "$root/resources/models/shapes-tiny/model.safetensors" "$model/"
cat > "$model/chat_template.jinja" <<'JINJA'
{{- "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. " -}}
{%- for m in messages -%}
{%- if m['role'] == 'user' -%}
USER: {% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] in ['image', 'image_url'] %}<image>
{% endif %}{% endfor %}{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %} {% elif m['role'] == 'assistant' -%}
ASSISTANT: {% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}</s>
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}ASSISTANT:{%- endif -%}
JINJA

wait_health() {  # URL SECONDS
  for _ in $(seq 1 "$2"); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

runs=5
ask() {  # LABEL ARGS...: $runs runs, medians of the client-side timings
  local label="$1"; shift
  for _ in $(seq 1 "$runs"); do
    "$cli" ask --image "$image" --question "Where is the red circle?" --max-new-tokens 24 --json "$@"
  done | python3 -c "
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
first = statistics.median(r['timings_ms']['first_token'] for r in rows)
total = statistics.median(r['timings_ms']['total'] for r in rows)
answers = {r['answer'] for r in rows}
print(f\"{sys.argv[1]:<28} {rows[0]['answer']!r:<28} first token {first:7.1f} ms  total {total:7.1f} ms\" + ('' if len(answers) == 1 else '  (answers differ between runs)'))
" "$label"
}

echo "RegionChat $(git -C "$root" rev-parse --short HEAD), $(nproc) CPU cores, $(date -u +%F)"
echo "one question with the sample scene, greedy, 24 tokens at most, medians of $runs runs (a fresh"
echo "process per run: first token includes the image upload and encode); every engine on the same"
echo "llava-hf folder (embedded weights, CLIP centre crop, LLaMA-normaliser tokenizer)"
ask "local engine (in process)" --model "$model"

"$cli" serve --port 18181 --model "$model" >"$work/rc-serve.log" 2>&1 &
pids+=($!)
wait_health http://127.0.0.1:18181 60
ask "regionchat-cli serve" --server http://127.0.0.1:18181 --region-format dualfocus

if [ -x "$venv/bin/transformers" ]; then
  "$venv/bin/transformers" serve --port 18182 "$model" >"$work/tf-serve.log" 2>&1 &
  pids+=($!)
  if wait_health http://127.0.0.1:18182 240; then
    ask "transformers serve $("$venv/bin/python" -c 'import transformers; print(transformers.__version__)')" \
      --server http://127.0.0.1:18182 --server-model "$model" --region-format dualfocus \
      || { echo "transformers serve: the request failed; its log:"; tail -20 "$work/tf-serve.log"; failed=1; }
  else
    echo "transformers serve did not start; its log:"; tail -20 "$work/tf-serve.log"; failed=1
  fi
else
  echo "transformers serve: no venv at $venv (tools/peers/make-venv-peers.sh makes it)"
fi

if [ -x "$vllm_venv/bin/vllm" ]; then
  # vLLM tokenises a chat template's text without adding BOS: its copy of the folder gets a
  # template that writes it, as LLaVA's prompt has it.
  vmodel="$work/shapes-tiny-vllm"
  cp -r "$model" "$vmodel"
  { printf '{{- bos_token -}}\n'; cat "$model/chat_template.jinja"; } > "$vmodel/chat_template.jinja"
  VLLM_CPU_KVCACHE_SPACE=1 "$vllm_venv/bin/vllm" serve "$vmodel" --port 18183 --dtype float32 \
    --max-model-len 512 --served-model-name shapes-tiny --gpu-memory-utilization 0.2 \
    >"$work/vllm-serve.log" 2>&1 &
  pids+=($!)
  if wait_health http://127.0.0.1:18183 600; then
    ask "vLLM $("$vllm_venv/bin/python" -c 'import vllm; print(vllm.__version__)') (CPU)" \
      --server http://127.0.0.1:18183 --server-model shapes-tiny --region-format dualfocus \
      || { echo "vLLM: the request failed; its log:"; tail -20 "$work/vllm-serve.log"; failed=1; }
  else
    echo "vLLM did not start; its log:"; grep -m5 -i error "$work/vllm-serve.log" || tail -20 "$work/vllm-serve.log"
    failed=1
  fi
else
  echo "vLLM: no venv at $vllm_venv (tools/peers/make-venv-vllm.sh makes it)"
fi
exit "$failed"
