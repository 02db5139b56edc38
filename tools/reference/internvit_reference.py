#!/usr/bin/env python3
"""Reference fixture for InternVL2's vision side (InternViT, pixel shuffle 0.5, mlp1) from
transformers' native InternVLVisionModel and InternVLMultiModalProjector (CoLVA's InternVL2-4B
uses InternViT-300M-448px: layer_norm eps 1e-6, q/k/v with biases, layer scale, no qk norm, no
final norm, features of the last layer without CLS).

    /work/venv-peers/bin/python tools/reference/internvit_reference.py [--out tests/reference/internvit]

A tiny random tower (width 64, 2 layers, 4 heads, intermediate 128, 14 px patches, 56 px tiles:
a 4x4 grid, pixel-shuffled to 2x2 rows of 256) and projector (LayerNorm(256) -> Linear(256, 96)
-> GELU -> Linear(96, 96)). The weights are saved under OpenGVLab's original InternVL key names
(vision_model.embeddings.class_embedding / patch_embedding / position_embedding,
vision_model.encoder.layers.N.{norm1,norm2,ls1,ls2,attn.qkv,attn.proj,mlp.fc1,mlp.fc2},
mlp1.{0,1,3}), converted the way transformers' convert_internvl_weights_to_hf.py maps them
(q/k/v concatenated into qkv). Records two 56x56 tiles' ViT output, the shuffled rows and the
projector's output, fp32.
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import InternVLConfig, InternVLVisionConfig
from transformers.models.internvl.modeling_internvl import (InternVLModel,
                                                            InternVLMultiModalProjector,
                                                            InternVLVisionModel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/reference/internvit")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    vc = InternVLVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=4, image_size=[56, 56], patch_size=[14, 14],
                              attention_bias=True, use_qk_norm=False, layer_scale_init_value=0.1,
                              norm_type="layer_norm", layer_norm_eps=1e-6, use_mean_pooling=True,
                              use_absolute_position_embeddings=True, hidden_act="gelu",
                              attn_implementation="eager")
    cfg = InternVLConfig(vision_config=vc.to_dict(),
                         text_config={"model_type": "qwen2", "hidden_size": 96},
                         downsample_ratio=0.5, projector_hidden_act="gelu",
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    vision = InternVLVisionModel(vc).eval()
    proj = InternVLMultiModalProjector(cfg).eval()
    with torch.no_grad():
        for m in (vision, proj):
            for n, p in m.named_parameters():
                if n.endswith("lambda_1") or n.endswith("lambda_2"):
                    p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.25)
                elif p.dim() == 1:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if "norm" in n else 0.0))
                elif "cls_token" in n or "position_embeddings" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.5)
                else:
                    fan_in = p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    pixels = torch.randn(2, 3, 56, 56, generator=g)
    with torch.no_grad():
        feats = vision(pixel_values=pixels).last_hidden_state
        f = feats[:, 1:, :]
        side = int(f.shape[1] ** 0.5)
        f = f.reshape(f.shape[0], side, side, -1)
        shuffled = InternVLModel.pixel_shuffle(None, f, scale_factor=0.5)
        shuffled = shuffled.reshape(shuffled.shape[0], -1, shuffled.shape[-1])
        rows = proj(shuffled)
    sd = vision.state_dict()
    orig = {
        "vision_model.embeddings.class_embedding": sd["embeddings.cls_token"],
        "vision_model.embeddings.position_embedding": sd["embeddings.position_embeddings"],
        "vision_model.embeddings.patch_embedding.weight": sd["embeddings.patch_embeddings.projection.weight"],
        "vision_model.embeddings.patch_embedding.bias": sd["embeddings.patch_embeddings.projection.bias"],
    }
    for i in range(vc.num_hidden_layers):
        h, o = "encoder.layer.%d." % i, "vision_model.encoder.layers.%d." % i
        for w in ("weight", "bias"):
            orig[o + "attn.qkv." + w] = torch.cat([sd[h + "attention.%s_proj.%s" % (x, w)] for x in "qkv"])
            orig[o + "attn.proj." + w] = sd[h + "attention.projection_layer." + w]
            orig[o + "norm1." + w] = sd[h + "layernorm_before." + w]
            orig[o + "norm2." + w] = sd[h + "layernorm_after." + w]
            orig[o + "mlp.fc1." + w] = sd[h + "mlp.fc1." + w]
            orig[o + "mlp.fc2." + w] = sd[h + "mlp.fc2." + w]
        orig[o + "ls1"] = sd[h + "lambda_1"]
        orig[o + "ls2"] = sd[h + "lambda_2"]
    ps = proj.state_dict()
    for w in ("weight", "bias"):
        orig["mlp1.0." + w] = ps["layer_norm." + w]
        orig["mlp1.1." + w] = ps["linear_1." + w]
        orig["mlp1.3." + w] = ps["linear_2." + w]
    os.makedirs(a.out, exist_ok=True)
    tensors = {k: v.detach().contiguous().clone() for k, v in orig.items()}
    tensors.update({"ref.pixels": pixels, "ref.vit": feats.contiguous(),
                    "ref.shuffled": shuffled.contiguous(), "ref.rows": rows.contiguous()})
    save_file(tensors, os.path.join(a.out, "reference.safetensors"))
    with open(os.path.join(a.out, "reference.json"), "w") as fh:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "vision_config": vc.to_dict(), "downsample_ratio": 0.5, "llm_hidden": 96},
                  fh, indent=1, default=str)
    print("vit", tuple(feats.shape), "rows", tuple(rows.shape), "wrote", a.out)


if __name__ == "__main__":
    main()
