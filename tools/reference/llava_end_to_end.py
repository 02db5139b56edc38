#!/usr/bin/env python3
"""Writes tests/reference/llava-e2e/: the path a user runs, as transformers runs it.

An image FILE and a question go through transformers' LlavaProcessor (its image processor,
"<image>" expansion, BOS, SentencePiece tokenisation) and LlavaForConditionalGeneration.generate
(greedy) on the embedded model's weights (resources/models/shapes-tiny). tests/test_reference.cpp
(endToEndAgainstTransformers) sends the same file and question through rc::Session::ask and
compares: input ids token for token, pixel values within 1e-6, the greedy answer token for token.

Two image processors, both from transformers and both written as preprocessor_config.json:
  model/preprocessor_config.json  CLIPImageProcessor, llava-hf's (shortest edge + centre crop)
  pad/preprocessor_config.json    LlavaImageProcessor with do_pad (LLaVA-1.5's expand2square)
The PIL processors (CLIPImageProcessorPil, LlavaImageProcessorPil) are used: LLaVA was trained on PIL's bicubic resize, which
RegionChat reproduces; the torchvision "fast" ones differ from it by up to a few 8-bit levels.
The tokenizer is the embedded model's SentencePiece BPE model with LLaMA's "identity" normaliser
(transformers 5 converts a tokenizer.model assuming LLaMA's settings and drops any other
normaliser; the embedded model's nmt_nfkc turns "\n" into a space in SentencePiece but not in
transformers). It is loaded with legacy=True (each text piece between "<image>" tokens gets its
own leading "\u2581", as LLaVA's tokenizer_image_token does) and "<image>" added as token 512,
the config's image_token_index. The CLIP processor is saved as transformers 5 saves it
(model/processor_config.json with an "image_processor" object), the pad one as the llava-hf
repositories ship theirs (pad/preprocessor_config.json).

  tools/reference/make-venv-transformers.sh && /work/venv-ref/bin/python \
      tools/reference/llava_end_to_end.py [OUT_DIR]      (default tests/reference/llava-e2e)

Fails with a non-zero exit and leaves old fixtures untouched when anything goes wrong.
Development tool only; the product never runs Python.
"""
import atexit
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import transformers
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from sentencepiece import sentencepiece_model_pb2 as sp_pb
from transformers import (CLIPImageProcessorPil, LlamaTokenizer, LlavaForConditionalGeneration,
                          LlavaImageProcessorPil, LlavaProcessor)

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
embedded = os.path.join(repo, "resources", "models", "shapes-tiny")
final = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(repo, "tests", "reference", "llava-e2e"))
os.makedirs(os.path.dirname(final), exist_ok=True)
scratch = tempfile.mkdtemp(prefix=".llava-e2e-", dir=os.path.dirname(final))
atexit.register(shutil.rmtree, scratch, True)
out = os.path.join(scratch, "llava-e2e")
model_dir = os.path.join(out, "model")
os.makedirs(model_dir)
os.makedirs(os.path.join(out, "pad"))

# The embedded config without RegionChat's own image settings: the image processor decides.
config = json.load(open(os.path.join(embedded, "config.json")))
for key in ("image_aspect", "image_filter"):
    config["regionchat"].pop(key, None)
with open(os.path.join(model_dir, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
side = config["vision_config"]["image_size"]
patch = config["vision_config"]["patch_size"]

# The embedded model's SentencePiece model with LLaMA's normaliser ("identity"): transformers 5
# converts a tokenizer.model assuming it and drops any other, so with the embedded model's own
# nmt_nfkc the two sides would disagree on "\n" for a reason no real LLaMA tokenizer has.
spec = sp_pb.ModelProto()
spec.ParseFromString(open(os.path.join(embedded, "tokenizer.model"), "rb").read())
spec.normalizer_spec.name = "identity"
spec.normalizer_spec.precompiled_charsmap = b""
spec.normalizer_spec.remove_extra_whitespaces = False
with open(os.path.join(model_dir, "tokenizer.model"), "wb") as f:
    f.write(spec.SerializeToString())

tokenizer = LlamaTokenizer.from_pretrained(model_dir, legacy=True, add_bos_token=True,
                                           add_eos_token=False)
tokenizer.add_tokens(["<image>"], special_tokens=True)
image_id = tokenizer.convert_tokens_to_ids("<image>")
if image_id != config["image_token_index"]:
    sys.exit(f"<image> became id {image_id}, not image_token_index {config['image_token_index']}")

clip_args = dict(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                 resample=3, do_center_crop=True)
crop_processor = CLIPImageProcessorPil(**clip_args)
pad_processor = LlavaImageProcessorPil(do_pad=True, **clip_args)
processor = LlavaProcessor(image_processor=crop_processor, tokenizer=tokenizer, patch_size=patch,
                           vision_feature_select_strategy="default", image_token="<image>",
                           num_additional_image_tokens=1)
processor.save_pretrained(model_dir)
pad_processor.save_pretrained(os.path.join(out, "pad"))

# A landscape picture with shapes the embedded model knows, so the answer is not noise and
# the centre crop cuts something off.
rng = np.random.default_rng(2026)
img = Image.fromarray(rng.integers(180, 256, size=(120, 200, 3), dtype=np.uint8))
draw = ImageDraw.Draw(img)
draw.ellipse((70, 30, 130, 90), fill=(220, 30, 30))
draw.rectangle((10, 10, 40, 40), fill=(30, 60, 220))
img.save(os.path.join(out, "image.png"))
image = Image.open(os.path.join(out, "image.png")).convert("RGB")

question = "Where is the red circle?"  # a grounding answer: several tokens, then EOS
prompt = ("A chat between a curious user and an artificial intelligence assistant. The "
          "assistant gives helpful, detailed, and polite answers to the user's questions. "
          f"USER: <image>\n{question} ASSISTANT:")

weights = tempfile.mkdtemp(prefix="llava-e2e-weights-")
atexit.register(shutil.rmtree, weights, True)
for name in os.listdir(model_dir):
    shutil.copy(os.path.join(model_dir, name), weights)
shutil.copy(os.path.join(embedded, "model.safetensors"), weights)
model = LlavaForConditionalGeneration.from_pretrained(weights, attn_implementation="eager",
                                                      dtype=torch.float32).eval()
inputs = processor(images=image, text=prompt, return_tensors="pt")
pad_pixels = pad_processor(images=image, return_tensors="pt")["pixel_values"]
with torch.no_grad():
    logits = model(**inputs).logits[0, -1].float()
    gen = model.generate(**inputs, max_new_tokens=24, do_sample=False, eos_token_id=2,
                         pad_token_id=0)
greedy = gen[0, inputs["input_ids"].shape[1]:].to(torch.int64)
answer = tokenizer.decode(greedy, skip_special_tokens=True)

save_file({"input_ids": inputs["input_ids"].to(torch.int64).contiguous(),
           "pixel_values_crop": inputs["pixel_values"].float().contiguous(),
           "pixel_values_pad": pad_pixels.float().contiguous(),
           "last_logits": logits.contiguous(),
           "greedy_ids": greedy.contiguous()},
          os.path.join(out, "reference.safetensors"),
          metadata={"transformers": transformers.__version__, "torch": torch.__version__})
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump({"question": question, "prompt": prompt, "answer": answer,
               "image": "image.png", "image_size": list(image.size),
               "transformers": transformers.__version__, "torch": torch.__version__}, f,
              indent=2)
print("ids", inputs["input_ids"].shape, inputs["input_ids"][0, :12].tolist(), "...",
      inputs["input_ids"][0, -12:].tolist())
print("pixels", tuple(inputs["pixel_values"].shape), "answer", repr(answer), greedy.tolist())

if os.path.isdir(final):
    shutil.rmtree(final)
os.replace(out, final)
print("fixtures written to", final)
