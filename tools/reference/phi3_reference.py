#!/usr/bin/env python3
"""Reference fixture for Phi-3's LongRoPE and fused projections (InternVL2-4B's language model,
Phi-3-mini-128k-instruct) from transformers' own Phi3ForCausalLM.

    /work/venv-peers/bin/python tools/reference/phi3_reference.py [--out tests/reference/phi3]

(The venv of tools/peers/make-venv-peers.sh: transformers 5.x, torch 2.x, CPU.) A tiny random
Phi-3 (hidden 64, 2 layers, 4 heads over 2 KV heads, intermediate 96, rope_theta 10000) with
rope_scaling longrope: short and long factors drawn per dimension, original context 24 and
max_position_embeddings 96 (factor 4, so the attention factor is
sqrt(1 + ln 4 / ln 24) = 1.1984), fused qkv_proj and gate_up_proj, untied head. Records fp32
logits of two prompts: 20 tokens (all positions under 24: the short factors) and 40 tokens
(past 24: transformers switches the whole forward to the long factors).
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import Phi3Config, Phi3ForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/reference/phi3")
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    head_dim = 16
    g = torch.Generator().manual_seed(a.seed)
    short = (1.0 + torch.rand(head_dim // 2, generator=g) * 0.5).tolist()
    long = (1.0 + torch.rand(head_dim // 2, generator=g) * 8.0).tolist()
    cfg = Phi3Config(vocab_size=200, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=96,
                     original_max_position_embeddings=24, rope_theta=10000.0,
                     rope_scaling={"type": "longrope", "rope_type": "longrope",
                                   "short_factor": short, "long_factor": long},
                     rms_norm_eps=1e-5, tie_word_embeddings=False, pad_token_id=0,
                     bos_token_id=1, eos_token_id=2, attn_implementation="eager")
    model = Phi3ForCausalLM(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    ids20 = torch.randint(3, 200, (1, 20), generator=g)
    ids40 = torch.randint(3, 200, (1, 40), generator=g)
    with torch.no_grad():
        l20 = model(ids20).logits[0]
        l40 = model(ids40).logits[0]
    os.makedirs(a.out, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors["logits_20"] = l20.contiguous()
    tensors["logits_40"] = l40.contiguous()
    save_file(tensors, os.path.join(a.out, "reference.safetensors"))
    rope = getattr(model.model.rotary_emb, "attention_scaling", None)
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "config": json.loads(cfg.to_json_string()), "ids_20": ids20[0].tolist(),
                   "ids_40": ids40[0].tolist(), "attention_scaling": rope}, f, indent=1)
    print("attention scaling", rope, "wrote", a.out)


if __name__ == "__main__":
    main()
