# Sourced by tools/peers/run_peers.sh and tools/peers/bench.sh:
#   tiny_llava_hf ROOT DIR   writes DIR, the embedded model as a llava-hf folder every peer engine
#                            loads (the llava-e2e fixture's config, processor and LLaMA-normaliser
#                            tokenizer, the embedded weights, a vicuna_v1 chat template)
tiny_llava_hf() {
  local root="$1" model="$2"
  mkdir -p "$model"
  cp "$root"/tests/reference/llava-e2e/model/* "$model/"
  cp "$root/resources/models/shapes-tiny/model.safetensors" "$model/"
  # The embedded model was trained on LLaVA's padded squares (expand2square): every engine gets
  # LlavaImageProcessor with do_pad (transformers, vLLM and RegionChat read it; llama.cpp pads
  # LLaVA images itself), so a non-square image is seen whole, as the "dualfocus" region format
  # (normalised on the padded square) assumes.
  python3 - "$model/processor_config.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["image_processor"]["image_processor_type"] = "LlavaImageProcessor"
p["image_processor"]["do_pad"] = True
json.dump(p, open(sys.argv[1], "w"), indent=2)
PY
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
}
