#!/usr/bin/env bash
# Serves the embedded model with a peer engine and asks it the same conversation through
# RegionChat's remote backend (regionchat-cli ask --server) and through the local engine,
# printing answers and timings side by side.
#
#   tools/peers/run_peers.sh [BUILD_DIR] [VENV_DIR] [VLLM_VENV] [LLAMACPP_VENV]
#        (defaults: build, /work/venv-peers, /work/venv-vllm, /work/venv-llamacpp)
#
# Peers: `regionchat-cli serve`, `transformers serve`, vLLM's CPU build (`vllm serve`) and
# llama.cpp (llama-cpp-python's server on GGUF files tools/peers/make_gguf.py writes), all on the
# embedded weights in one llava-hf folder (the llava-e2e fixture's config, processor and
# LLaMA-normaliser tokenizer, plus a vicuna_v1 chat template). Answer scores (DualFocus'
# perplexity choice) are compared where a server offers them: regionchat-cli serve (RegionChat's
# extension) and vLLM (prompt_logprobs). Not run by CI (large installs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=llava_folder.sh
source "$root/tools/peers/llava_folder.sh"
build="${1:-$root/build}"
venv="${2:-/work/venv-peers}"
vllm_venv="${3:-/work/venv-vllm}"
llama_venv="${4:-/work/venv-llamacpp}"
cli="$build/app/regionchat-cli"
image="$root/resources/samples/scene_1000000000.png"
work="$(mktemp -d)"
pids=()
failed=0  # a peer that was installed but failed makes the script exit 1
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The model folder transformers serves.
model="$work/shapes-tiny-hf"
tiny_llava_hf "$root" "$model"

wait_health() {  # URL SECONDS [PATH]
  for _ in $(seq 1 "$2"); do
    curl -sf "$1${3:-/health}" >/dev/null 2>&1 && return 0
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
print(f\"{sys.argv[1]:<28} {rows[0]['answer']!r:<28} {rows[0]['prompt_tokens']:>4} prompt tokens  first token {first:7.1f} ms  total {total:7.1f} ms\" + ('' if len(answers) == 1 else '  (answers differ between runs)'))
" "$label"
}

# The NLL of two candidate answers (DualFocus' perplexity choice), where the backend scores.
score() {  # LABEL ARGS...
  local label="$1"; shift
  "$cli" ask --image "$image" --question "Where is the red circle?" --max-new-tokens 1 --json \
    --score "$cand1" --score "$cand2" --score "$cand3" "$@" | python3 -c "
import json, sys
r = json.loads(sys.stdin.read())
print(f\"{sys.argv[1]:<28} \" + '  '.join(f\"{s['nll']:9.4f}\" for s in r['scores']))
" "$label"
}

echo "RegionChat $(git -C "$root" rev-parse --short HEAD), $(nproc) CPU cores, $(date -u +%F)"
echo "one question with the sample scene, greedy, 24 tokens at most, medians of $runs runs (a fresh"
echo "process per run: first token includes the image upload and encode); every engine on the same"
echo "llava-hf folder (embedded weights, LLaVA padding, LLaMA-normaliser tokenizer)"
ask "local engine (in process)" --model "$model"
# The candidates: the local engine's own answer and a wrong one.
cand1="$("$cli" ask --image "$image" --question "Where is the red circle?" --max-new-tokens 24 --json \
  --model "$model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["answer"])')"
cand2="There is no red circle."
cand3="It is a blue square."
scores=("local engine (in process)|--model $model")

"$cli" serve --port 18181 --model "$model" >"$work/rc-serve.log" 2>&1 &
pids+=($!)
wait_health http://127.0.0.1:18181 60
ask "regionchat-cli serve" --server http://127.0.0.1:18181 --region-format dualfocus
scores+=("regionchat-cli serve|--server http://127.0.0.1:18181 --region-format dualfocus")

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
    scores+=("vLLM (prompt_logprobs)|--server http://127.0.0.1:18183 --server-model shapes-tiny --region-format dualfocus")
  else
    echo "vLLM did not start; its log:"; grep -m5 -i error "$work/vllm-serve.log" || tail -20 "$work/vllm-serve.log"
    failed=1
  fi
else
  echo "vLLM: no venv at $vllm_venv (tools/peers/make-venv-vllm.sh makes it)"
fi
if [ -x "$llama_venv/bin/python" ] && "$llama_venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  # llama.cpp's mtmd handler renders the GGUF's chat template with the image as the text
  # "<__media__>"; this copy of the template puts LLaVA's newline after it.
  lmodel="$work/shapes-tiny-gguf-src"
  cp -r "$model" "$lmodel"
  cat > "$lmodel/chat_template.jinja" <<'JINJA'
{{- "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. " -}}
{%- for m in messages -%}
{%- if m['role'] == 'user' -%}
{{- 'USER: ' -}}
{%- if m['content'] is string -%}{{- m['content'] -}}{%- else -%}{%- for c in m['content'] -%}{%- if c['type'] == 'text' and c['text'] == '<__media__>' -%}{{- '<__media__>\n' -}}{%- elif c['type'] == 'text' -%}{{- c['text'] -}}{%- endif -%}{%- endfor -%}{%- endif -%}
{{- ' ' -}}
{%- elif m['role'] == 'assistant' -%}
{{- 'ASSISTANT: ' + (m['content'] if m['content'] is string else '') + '</s>' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}
JINJA
  "$llama_venv/bin/python" "$root/tools/peers/make_gguf.py" "$lmodel" "$work/gguf" >/dev/null
  "$llama_venv/bin/python" -m llama_cpp.server --model "$work/gguf/text-f32.gguf" \
    --clip_model_path "$work/gguf/mmproj-f32.gguf" --chat_format mtmd --model_alias shapes-tiny \
    --n_ctx 512 --n_threads "$(nproc)" --port 18184 >"$work/llamacpp-serve.log" 2>&1 &
  pids+=($!)
  if wait_health http://127.0.0.1:18184 120 /v1/models; then
    # Its server applies repeat_penalty 1.1 unless told otherwise, greedy or not.
    ask "llama.cpp $("$llama_venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)') (F32 GGUF)" \
      --server http://127.0.0.1:18184 --server-model shapes-tiny --region-format dualfocus \
      --server-extra '{"repeat_penalty": 1.0}' \
      || { echo "llama.cpp: the request failed; its log:"; tail -20 "$work/llamacpp-serve.log"; failed=1; }
  else
    echo "llama.cpp did not start; its log:"; tail -20 "$work/llamacpp-serve.log"; failed=1
  fi
else
  echo "llama.cpp: no venv at $llama_venv (tools/peers/make-venv-llamacpp.sh makes it)"
fi

echo
echo "answer scores (mean NLL per answer token, DualFocus' perplexity choice) where a server offers them,"
echo "for 1: $cand1  2: $cand2  3: $cand3"
printf '%-28s %9s  %9s  %9s\n' "" 1 2 3
for entry in "${scores[@]}"; do
  # shellcheck disable=SC2086
  score "${entry%%|*}" ${entry#*|} || { echo "${entry%%|*}: scoring failed"; failed=1; }
done
exit "$failed"
