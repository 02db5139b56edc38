#!/usr/bin/env python3
"""Writes the transformers parity fixtures for tests/test_reference.cpp.

A tiny random LlavaForConditionalGeneration (CLIP vision tower, mlp2x_gelu projector,
LLaMA decoder with grouped-query attention and a non-default rope theta), saved with
save_pretrained, plus inputs and what transformers computes from them:
  tests/reference/llava-tiny/{config.json,model.safetensors}
  tests/reference/llava-tiny/reference.safetensors
      input_ids [1, L] int64, pixel_values [1, 3, 32, 32] float32,
      image_features [16, 64], logits [1, L, V], greedy_ids [8] int64
  tests/reference/shapes-tiny.safetensors
      the embedded model (resources/models/shapes-tiny) loaded by transformers:
      input_ids, pixel_values [1, 3, 128, 128], logits
  tests/reference/sam-tiny/{config.json,model.safetensors,reference.safetensors}
      a tiny random SamModel: pixel_values, input_points, input_labels, image_embeddings,
      pred_masks, iou_scores
Run where transformers is installed (the GPU machine), from the repository root:
  python3 tests/reference/make_reference.py OUT_DIR
Development tool only; the product never runs Python.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

import shutil
import tempfile

# Everything is written to a scratch folder next to the destination and moved into place only
# when every part has succeeded: a failure exits non-zero and leaves the old fixtures as they
# were, never a mix of old and new.
final_root = sys.argv[1] if len(sys.argv) > 1 else "tests/reference"
os.makedirs(final_root, exist_ok=True)
root = tempfile.mkdtemp(prefix=".make_reference-", dir=final_root)
import atexit

atexit.register(shutil.rmtree, root, True)  # gone after the move; removed on any failure
out = os.path.join(root, "llava-tiny")
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


def embedded_model():
    """The embedded model's logits as transformers computes them from the same folder."""
    torch.manual_seed(77)
    m = LlavaForConditionalGeneration.from_pretrained("resources/models/shapes-tiny",
                                                      attn_implementation="eager").eval().float()
    n = m.config.vision_config.image_size // m.config.vision_config.patch_size
    ids = [1, 44, 310, 12] + [m.config.image_token_index] * (n * n) + [5, 470, 460, 43, 99, 2]
    input_ids = torch.tensor([ids], dtype=torch.int64)
    pixel_values = torch.empty(1, 3, 128, 128).uniform_(-1.8, 2.1)
    with torch.no_grad():
        logits = m(input_ids=input_ids, pixel_values=pixel_values).logits.float()
    save_file({"input_ids": input_ids, "pixel_values": pixel_values.contiguous(),
               "logits": logits.contiguous()},
              os.path.join(root, "shapes-tiny.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    print("embedded logits", tuple(logits.shape))


def sam_tiny():
    """A tiny random SamModel and its masks for one point prompt."""
    from transformers import (SamConfig, SamMaskDecoderConfig, SamModel,
                              SamPromptEncoderConfig, SamVisionConfig)
    torch.manual_seed(4321)
    vision = SamVisionConfig(hidden_size=32, output_channels=32, num_hidden_layers=2,
                             num_attention_heads=2, image_size=64, patch_size=8,
                             window_size=4, global_attn_indexes=[1], num_pos_feats=16,
                             mlp_dim=64)
    prompt = SamPromptEncoderConfig(hidden_size=32, image_size=64, patch_size=8,
                                    mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2,
                                   num_attention_heads=2, iou_head_hidden_dim=32)
    config = SamConfig(vision_config=vision, prompt_encoder_config=prompt,
                       mask_decoder_config=decoder)
    model = SamModel(config).eval().float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.1)
    sam_out = os.path.join(root, "sam-tiny")
    model.save_pretrained(sam_out, safe_serialization=True)
    pixel_values = torch.empty(1, 3, 64, 64).uniform_(-2.0, 2.0)
    points = torch.tensor([[[[20.0, 30.0], [40.0, 12.0]]]])
    labels = torch.tensor([[[1, 0]]], dtype=torch.int64)
    with torch.no_grad():
        emb = model.get_image_embeddings(pixel_values)
        res = model(image_embeddings=emb, input_points=points, input_labels=labels,
                    multimask_output=True)
    save_file({"pixel_values": pixel_values.contiguous(), "input_points": points.contiguous(),
               "input_labels": labels.contiguous(), "image_embeddings": emb.contiguous(),
               "pred_masks": res.pred_masks.float().contiguous(),
               "iou_scores": res.iou_scores.float().contiguous()},
              os.path.join(sam_out, "reference.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    print("sam", tuple(emb.shape), tuple(res.pred_masks.shape), tuple(res.iou_scores.shape))
    print(open(os.path.join(sam_out, "config.json")).read()[:3000])


for part in (embedded_model, sam_tiny):
    part()  # any exception: its traceback, a non-zero exit, the scratch folder removed
for name in sorted(os.listdir(root)):
    dest = os.path.join(final_root, name)
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    elif os.path.exists(dest):
        os.remove(dest)
    os.replace(os.path.join(root, name), dest)
print("fixtures written to", final_root)
