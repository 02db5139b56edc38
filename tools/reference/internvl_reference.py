#!/usr/bin/env python3
"""Reference fixture for InternVL2 (CoLVA's base: InternViT + pixel shuffle + mlp1 + Phi-3 with
LongRoPE) end to end from transformers' native InternVLForConditionalGeneration with a Phi-3
text model.

    /work/venv-peers/bin/python tools/reference/internvl_reference.py [--out tests/reference/internvl]

A tiny random model (vision as tools/reference/internvit_reference.py: width 64, 2 layers, 56 px
tiles, 4 rows per tile after the shuffle; Phi-3 hidden 96, 2 layers, 4 heads over 2 KV heads,
intermediate 128, LongRoPE with original context 40 and max 160 (the 30-token prompt runs on the short
factors, decoding switches to the long ones at position 40 as transformers does), vocab 300,
image token 299;
lm_head rows of norm 4 and qkv drawn with gain 1.5 so that greedy decoding does not repeat one
token).
The weights are saved under OpenGVLab's original InternVL names (vision_model.*, mlp1.{0,1,3},
language_model.model.* with Phi-3's fused qkv_proj and gate_up_proj, language_model.lm_head),
as convert_internvl_weights_to_hf.py maps them. Records, for 3 tiles (2 + a thumbnail) and a
prompt of 10 + 12 image + 8 ids: the image rows, the logits of every position, and generate()'s
20 greedy ids (min_new_tokens 20, so EOS does not cut them).
"""
import argparse
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import InternVLConfig, InternVLForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/reference/internvl")
    ap.add_argument("--seed", type=int, default=9)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    head_dim = 24
    short = (1.0 + torch.rand(head_dim // 2, generator=g) * 0.5).tolist()
    long = (1.0 + torch.rand(head_dim // 2, generator=g) * 8.0).tolist()
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  image_size=[56, 56], patch_size=[14, 14], attention_bias=True, use_qk_norm=False,
                  layer_scale_init_value=0.1, norm_type="layer_norm", layer_norm_eps=1e-6,
                  use_mean_pooling=True, use_absolute_position_embeddings=True, hidden_act="gelu")
    text = dict(model_type="phi3", vocab_size=300, hidden_size=96, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=160, original_max_position_embeddings=40,
                rope_theta=10000.0, rope_scaling={"type": "longrope", "rope_type": "longrope",
                                                  "short_factor": short, "long_factor": long},
                rms_norm_eps=1e-5, tie_word_embeddings=False, pad_token_id=0, bos_token_id=1,
                eos_token_id=2)
    cfg = InternVLConfig(vision_config=vision, text_config=text, downsample_ratio=0.5,
                         image_token_id=299, projector_hidden_act="gelu", vision_feature_layer=-1,
                         vision_feature_select_strategy="default", tie_word_embeddings=False)
    cfg._attn_implementation = "eager"
    model = InternVLForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lambda_1") or n.endswith("lambda_2"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.25)
            elif p.dim() == 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if "norm" in n else 0.0))
            elif "cls_token" in n or "position_embeddings" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif "embed_tokens" in n:
                p.copy_(torch.randn(p.shape, generator=g))
            elif n == "lm_head.weight":  # rows of one norm: no "hub" token wins from every state
                w = torch.randn(p.shape, generator=g)
                p.copy_(w / w.norm(dim=1, keepdim=True) * 4.0)
            else:
                gain = 1.5 if "qkv_proj" in n else 1.0
                p.copy_(torch.randn(p.shape, generator=g) * gain / p[0].numel() ** 0.5)
    pixels = torch.randn(3, 3, 56, 56, generator=g)
    ids = ([1] + torch.randint(3, 299, (9,), generator=g).tolist() + [299] * 12 +
           torch.randint(3, 299, (8,), generator=g).tolist())
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        rows = model.model.get_image_features(pixel_values=pixels)
        rows = getattr(rows, "pooler_output", rows)
        logits = model(input_ids=input_ids, pixel_values=pixels).logits[0]
        out = model.generate(input_ids=input_ids, pixel_values=pixels, max_new_tokens=20,
                             min_new_tokens=20, do_sample=False, num_beams=1)
    greedy = out[0, input_ids.shape[1]:].tolist()
    sd = model.state_dict()
    orig = {}
    for k, v in sd.items():
        if k.startswith("model.vision_tower."):
            k2 = k[len("model.vision_tower."):]
            if k2.startswith("embeddings."):
                k2 = {"embeddings.cls_token": "embeddings.class_embedding",
                      "embeddings.position_embeddings": "embeddings.position_embedding",
                      "embeddings.patch_embeddings.projection.weight": "embeddings.patch_embedding.weight",
                      "embeddings.patch_embeddings.projection.bias": "embeddings.patch_embedding.bias"}[k2]
                orig["vision_model." + k2] = v
                continue
            parts = k2.split(".")  # encoder.layer.N.<rest>
            i, rest = parts[2], ".".join(parts[3:])
            o = "vision_model.encoder.layers.%s." % i
            if rest.startswith("attention.") and rest.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                w = rest.split(".")[-1]
                if rest.startswith("attention.q_proj"):
                    orig[o + "attn.qkv." + w] = torch.cat([sd["model.vision_tower.encoder.layer.%s.attention.%s_proj.%s" % (i, x, w)] for x in "qkv"])
                continue
            rest = (rest.replace("attention.projection_layer.", "attn.proj.")
                    .replace("layernorm_before.", "norm1.").replace("layernorm_after.", "norm2.")
                    .replace("lambda_1", "ls1").replace("lambda_2", "ls2"))
            orig[o + rest] = v
        elif k.startswith("model.multi_modal_projector."):
            k2 = k[len("model.multi_modal_projector."):]
            k2 = k2.replace("layer_norm.", "0.").replace("linear_1.", "1.").replace("linear_2.", "3.")
            orig["mlp1." + k2] = v
        elif k.startswith("model.language_model."):
            orig["language_model.model." + k[len("model.language_model."):]] = v
        elif k == "lm_head.weight":
            orig["language_model.lm_head.weight"] = v
        else:
            raise SystemExit("unmapped key " + k)
    os.makedirs(a.out, exist_ok=True)
    tensors = {k: v.detach().contiguous().clone() for k, v in orig.items()}
    tensors.update({"ref.pixels": pixels, "ref.rows": rows.reshape(-1, rows.shape[-1]).contiguous(),
                    "ref.logits": logits.contiguous()})
    save_file(tensors, os.path.join(a.out, "reference.safetensors"))
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "text_config": json.loads(cfg.text_config.to_json_string()),
                   "vision_config": json.loads(cfg.vision_config.to_json_string()),
                   "ids": ids, "greedy": greedy, "image_token_id": 299}, f, indent=1)
    print("rows", tuple(rows.shape), "greedy", greedy)


if __name__ == "__main__":
    main()
