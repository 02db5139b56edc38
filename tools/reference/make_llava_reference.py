#!/usr/bin/env python3
"""Writes the transformers parity fixture for tests/test_reference.cpp.

A tiny random LlavaForConditionalGeneration (CLIP vision tower, mlp2x_gelu projector,
LLaMA decoder with grouped-query attention and a non-default rope theta), saved with
save_pretrained, plus inputs and what transformers computes from them:
  tests/reference/llava-tiny/{config.json,model.safetensors}
  tests/reference/llava-tiny/reference.safetensors
      input_ids [1, L] int64, pixel_values [1, 3, 32, 32] float32,
      image_features [16, 64], logits [1, L, V], greedy_ids [8] int64
Run where transformers is installed (the GPU machine): python3 make_llava_reference.py OUT
Development tool only; the product never runs Python.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

out = sys.argv[1] if len(sys.argv) > 1 else "tests/reference/llava-tiny"
os.makedirs(out, exist_ok=True)
torch.manual_seed(1234)

vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, image_size=32, patch_size=8,
                          hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=32)
text = LlamaConfig(vocab_size=420, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                   rms_norm_eps=1e-5, rope_theta=20000.0, tie_word_embeddings=False,
                   bos_token_id=1, eos_token_id=2)
config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=419,
                     projector_hidden_act="gelu", vision_feature_layer=-2,
                     vision_feature_select_strategy="default", tie_word_embeddings=False)
config._attn_implementation = "eager"
model = LlavaForConditionalGeneration(config).eval().float()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "norm" in name and name.endswith("weight"):
            p.copy_(1.0 + 0.1 * torch.randn_like(p))  # not all ones, so a dropped norm shows
        else:
            p.normal_(0.0, 0.2)  # sharper logits than the default init
    # EOS never wins, so the greedy continuation has its full length.
    model.lm_head.weight[2].zero_()
    if model.lm_head.bias is not None:
        model.lm_head.bias[2] = -1e4
model.save_pretrained(out, safe_serialization=True)

n_image = (32 // 8) ** 2
ids = [1, 17, 23, 99] + [419] * n_image + [5, 250, 301, 7, 64]
input_ids = torch.tensor([ids], dtype=torch.int64)
pixel_values = torch.empty(1, 3, 32, 32).uniform_(-1.8, 2.1)
with torch.no_grad():
    logits = model(input_ids=input_ids, pixel_values=pixel_values).logits.float()
    feats = model.get_image_features(pixel_values=pixel_values,
                                     vision_feature_layer=-2,
                                     vision_feature_select_strategy="default")
    if isinstance(feats, (list, tuple)):
        feats = feats[0]
    if hasattr(feats, "pooler_output"):
        feats = feats.pooler_output
    if isinstance(feats, (list, tuple)):
        feats = feats[0]
    feats = feats.reshape(-1, feats.shape[-1]).float()
    gen = model.generate(input_ids=input_ids, pixel_values=pixel_values, max_new_tokens=8,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
greedy = gen[0, len(ids):].to(torch.int64)
save_file({"input_ids": input_ids, "pixel_values": pixel_values.contiguous(),
           "image_features": feats.contiguous(), "logits": logits.contiguous(),
           "greedy_ids": greedy.contiguous()},
          os.path.join(out, "reference.safetensors"),
          metadata={"transformers": transformers.__version__, "torch": torch.__version__})
print("transformers", transformers.__version__, "torch", torch.__version__)
print("logits", tuple(logits.shape), "features", tuple(feats.shape), "greedy", greedy.tolist())
print(open(os.path.join(out, "config.json")).read())
