#!/usr/bin/env python3
"""Writes a random-weight ParGo in the release layout at ParGo-7B's widths with fewer layers,
for measuring what loading takes against the model manager's plan (README, "ParGo").

    /work/venv-pargo/bin/python tools/pargo/make_random_pargo.py OUT_DIR [LLM_LAYERS] [VIT_BLOCKS]

Widths are ParGo's (EVA02-L/14 at 336: 1024 wide, heads of 64; bert-small-uncased: 512 wide, 4
layers, 8 heads; InternLM2-7B: 4096 wide, 32 heads over 8 KV groups, 14336 FFN, 92544 tokens),
the depths reduced (default 2 LLM layers and 2 ViT blocks); bf16 tensors, LoRA r 256 alpha 512.
OUT_DIR gets config.json, pargo.pth (ParGo's state-dict names), internlm2/ (model.safetensors,
config.json and a copy of the tiny fixture's tokenizer.model: tokens beyond it are never
produced by a tokenizer but exist in the embedding) and bert/config.json.
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

out = Path(sys.argv[1])
llm_layers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
vit_blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 2
root = Path(__file__).resolve().parents[2]
fixture = root / "tests/reference/pargo/model"
torch.manual_seed(0)
dt = torch.bfloat16


def r(*shape):
    return (torch.randn(*shape) * 0.02).to(dt)


W, M, V, D, I, H, KV, d = 1024, 2730, 92544, 4096, 14336, 32, 8, 128
B, BI, BL = 512, 2048, 4
ck = {"visual_encoder.cls_token": r(1, 1, W), "visual_encoder.pos_embed": r(1, 577, W),
      "visual_encoder.patch_embed.proj.weight": r(W, 3, 14, 14),
      "visual_encoder.patch_embed.proj.bias": r(W)}
for i in range(vit_blocks):
    p = f"visual_encoder.blocks.{i}."
    for n in ("norm1", "norm2", "attn.inner_attn_ln"):
        ck[p + n + ".weight"], ck[p + n + ".bias"] = r(W), r(W)
    for n in ("q_proj", "k_proj", "v_proj"):
        ck[p + f"attn.{n}.weight"] = r(W, W)
    ck[p + "attn.q_bias"], ck[p + "attn.v_bias"] = r(W), r(W)
    ck[p + "attn.proj.weight"], ck[p + "attn.proj.bias"] = r(W, W), r(W)
    ck[p + "mlp.w1.weight"], ck[p + "mlp.w1.bias"] = r(M, W), r(M)
    ck[p + "mlp.w2.weight"], ck[p + "mlp.w2.bias"] = r(M, W), r(M)
    ck[p + "mlp.ffn_ln.weight"], ck[p + "mlp.ffn_ln.bias"] = r(M), r(M)
    ck[p + "mlp.w3.weight"], ck[p + "mlp.w3.bias"] = r(W, M), r(W)
ck["ln_vision.weight"], ck["ln_vision.bias"] = r(W), r(W)
b = "ParGo.bert."
ck[b + "embeddings.position_embeddings.weight"] = r(512, B)
ck[b + "embeddings.LayerNorm.weight"], ck[b + "embeddings.LayerNorm.bias"] = r(B), r(B)
for i in range(BL):
    p = f"{b}encoder.layer.{i}."
    for att, kvw in (("attention", B), ("crossattention", W)):
        ck[p + f"{att}.self.query.weight"], ck[p + f"{att}.self.query.bias"] = r(B, B), r(B)
        for n in ("key", "value"):
            ck[p + f"{att}.self.{n}.weight"], ck[p + f"{att}.self.{n}.bias"] = r(B, kvw), r(B)
        ck[p + f"{att}.output.dense.weight"], ck[p + f"{att}.output.dense.bias"] = r(B, B), r(B)
        ck[p + f"{att}.output.LayerNorm.weight"], ck[p + f"{att}.output.LayerNorm.bias"] = r(B), r(B)
    ck[p + "intermediate_query.dense.weight"], ck[p + "intermediate_query.dense.bias"] = r(BI, B), r(BI)
    ck[p + "output_query.dense.weight"], ck[p + "output_query.dense.bias"] = r(B, BI), r(B)
    ck[p + "output_query.LayerNorm.weight"], ck[p + "output_query.LayerNorm.bias"] = r(B), r(B)
ck["query_tokens"] = r(1, 304, B)
ck["llm_proj.weight"], ck["llm_proj.bias"] = r(D, B), r(D)
for i in range(llm_layers):
    p = f"llm_model.base_model.model.model.layers.{i}.attention.wqkv."
    ck[p + "lora_A.default.weight"], ck[p + "lora_B.default.weight"] = r(256, D), r(KV * (H // KV + 2) * d, 256)
out.mkdir(parents=True, exist_ok=True)
torch.save(ck, out / "pargo.pth")

llm = {"model.tok_embeddings.weight": r(V, D), "model.norm.weight": r(D), "output.weight": r(V, D)}
for i in range(llm_layers):
    p = f"model.layers.{i}."
    llm[p + "attention.wqkv.weight"] = r(KV * (H // KV + 2) * d, D)
    llm[p + "attention.wo.weight"] = r(D, D)
    llm[p + "feed_forward.w1.weight"], llm[p + "feed_forward.w3.weight"] = r(I, D), r(I, D)
    llm[p + "feed_forward.w2.weight"] = r(D, I)
    llm[p + "attention_norm.weight"], llm[p + "ffn_norm.weight"] = r(D), r(D)
(out / "internlm2").mkdir(exist_ok=True)
save_file(llm, str(out / "internlm2/model.safetensors"))
cfg = json.loads((fixture / "internlm2/config.json").read_text())
cfg.update({"hidden_size": D, "intermediate_size": I, "num_attention_heads": H,
            "num_key_value_heads": KV, "num_hidden_layers": llm_layers, "vocab_size": V,
            "max_position_embeddings": 32768})
(out / "internlm2/config.json").write_text(json.dumps(cfg, indent=2))
shutil.copy(fixture / "internlm2/tokenizer.model", out / "internlm2/tokenizer.model")
(out / "bert").mkdir(exist_ok=True)
(out / "bert/config.json").write_text(json.dumps(
    {"hidden_size": B, "num_hidden_layers": BL, "num_attention_heads": 8, "intermediate_size": BI,
     "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "hidden_act": "gelu",
     "vocab_size": 30522, "model_type": "bert"}, indent=2))
top = json.loads((fixture / "config.json").read_text())
top.update({"lora_r": 256, "lora_alpha": 512, "llm_model": "internlm2", "bert_type": "bert",
            "ckpt": "pargo.pth", "regionchat": {"vision_width": W, "vision_depth": vit_blocks,
                                                 "vision_head_width": 64}})
(out / "config.json").write_text(json.dumps(top, indent=2))
n = sum(t.numel() for t in ck.values()) + sum(t.numel() for t in llm.values())
print(f"wrote {out}: {n / 1e9:.3f} B parameters in files ({llm_layers} LLM layers, {vit_blocks} ViT blocks)")
