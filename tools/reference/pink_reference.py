#!/usr/bin/env python3
"""Reference fixtures from Pink's OWN model code (github SY-Xuan/Pink), for RegionChat's C++ engine.

How to run (from the repository root; nothing of Pink is copied into the repo):

    tools/reference/make-venv-pink.sh /work/venv-pink                   # once
    git --git-dir <Pink git dir> archive HEAD | tar -x -C /tmp/pink-src
    /work/venv-pink/bin/python tools/reference/pink_reference.py --pink /tmp/pink-src \
        [--pink-commit 93a8048...] [--tokenizer resources/models/shapes-tiny/tokenizer.model] \
        [--out tests/reference/pink]

`--pink` (or $PINK_SRC) is the folder that holds the `pink` package; it is put on sys.path and
imported from there (pink/__init__.py registers PinkConfig/PinkModel with the Auto classes).
Any error exits non-zero; everything is written to a staging folder next to --out first and
swapped into place only when all of it succeeded, so a failed run leaves no partial fixtures.
No sys.modules stubs are needed: Pink's model package imports timm (pink/model/eva_vit.py), which
the venv has; gradio/deepspeed/flash-attn are not imported by pink.model.

1. A tiny random checkpoint set in Pink's RELEASE layout (tests/reference/pink/):
   llama-2-7b-chat-tiny/  the LLaMA-2-chat-hf folder demo.py reads: config.json, fp16 torch.save
                          shards pytorch_model-0000N-of-00002.bin + pytorch_model.bin.index.json
                          (with the rotary_emb.inv_freq buffers the 2023 conversion left in them),
                          tokenizer.model (a copy of --tokenizer), tokenizer_config.json and
                          special_tokens_map.json as meta-llama wrote them (legacy: false),
                          generation_config.json.
   clip-vit-tiny-patch8/  a CLIPModel folder as openai/clip-vit-large-patch14 (CLIPConfig with
                          text and vision configs, fp32 weights of both towers,
                          preprocessor_config.json); Pink loads its vision half.
   pink-tiny/             what PinkTrainer._save leaves (pink/train/pink_trainer.py:50-70):
                          config.json (PinkConfig), generation_config.json, the tokenizer files
                          of tokenizer.save_pretrained (tokenizer.model, tokenizer_config.json,
                          special_tokens_map.json, added_tokens.json) and saved_parameters.pth:
                          every parameter with requires_grad after train.py's set-up for
                          scripts/stage2.sh (--bf16, adapters in CLIP and LLaMA, --add_mark_tokens,
                          --tune_mm_mlp_adapter) plus model.embed_tokens.weight and lm_head.weight,
                          in the dtypes that set-up gives them: adapters and mm_projector fp32
                          (.float() in train.py), the grown embeddings bf16 (model.model.to(bf16)).
                          config.json names the other two folders relative to pink-tiny.
   The tokens are added by Pink's own initialize_vision_tokenizer / add_mark_tokens on a model
   built by Pink's own PinkModel. Every tensor is then drawn at random (std 0.2; norms in
   [0.5, 1.5]; the adapters' B non-zero), the saved embedding rows independently of the LLaMA
   shards' so a loader that reads the wrong table fails; lm_head's EOS row is zero so greedy
   decoding runs its 20 steps.

2. The model and tokenizer loaded as demo.py / pink/eval/model_pointingvqa_local.py load them
   (AutoTokenizer use_fast=False padding_side='left' from the Pink folder; AutoConfig use_cache;
   the LLaMA shards of pytorch_model.bin.index.json with saved_parameters.pth laid over them;
   AutoModelForCausalLM.from_pretrained(None, config=..., state_dict=...)), kept in fp32 (the
   scripts' .half() is skipped). config.json's relative llama_path/clip_path resolve against the
   Pink folder (the script runs Pink's loading with that folder as the working directory). The
   image goes through the eval scripts' transforms (Resize((crop_size, crop_size), BICUBIC),
   ToTensor, Normalize CLIP mean/std); the prompt is conv_llama2.copy() with set_system("Image: " +
   num_patches x "<im_patch>") and a 2-turn conversation whose first question holds a
   <loc>[x0,y0,x1,y1]</loc> box ("{:.3f}" of the pixel box over the image's width and height).

3. Records in tests/reference/pink/: image.png (40x30 random RGB), reference.safetensors
   (input_ids [1,L] int64, attention_mask, pixel_values [1,3,S,S] f32, logits [1,L,V] f32 from
   Pink's forward, greedy_ids [20] int64 from Pink's generate, checked against a manual greedy
   loop over its forward; input_ids_one_turn / greedy_ids_one_turn for the first question
   alone) and reference.json (prompt strings, messages, box, ids, alternative tokenizations,
   decoded answers, the saved_parameters.pth layout, versions).
"""
import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

LLAMA_DIR = "llama-2-7b-chat-tiny"
CLIP_DIR = "clip-vit-tiny-patch8"
PINK_DIR = "pink-tiny"
PINK_TOKENS = ["<im_patch>", "<des>", "</des>", "<loc>", "</loc>", "<rel>", "</rel>", "<cls>",
               "</cls>", "<qes>", "</qes>", "<opt>", "</opt>"]
SIZE_LIMIT = 2 * 1024 * 1024
GREEDY_STEPS = 20

# The conversation (RegionChat's engine puts the image before the first question; Pink puts its
# patch tokens into the system text).
IMAGE_W, IMAGE_H = 40, 30
BOX_PX = [5, 4, 27, 22]  # x0, y0, x1, y1 in pixels of the 40x30 image
Q1 = "Give me a description of the region {box} in the image?"
A1 = "A red square next to <des>a blue circle</des>."
Q2 = "Where is <des>the green triangle</des>?"

# meta-llama/Llama-2-7b-chat-hf's tokenizer files (2023 format, "__type": "AddedToken").
def added_token(content):
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": False,
            "rstrip": False, "single_word": False}


LLAMA2_TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": added_token("<s>"),
    "clean_up_tokenization_spaces": False,
    "eos_token": added_token("</s>"),
    "legacy": False,
    "model_max_length": 1000000000000000019884624838656,
    "pad_token": None,
    "padding_side": "right",
    "sp_model_kwargs": {},
    "tokenizer_class": "LlamaTokenizer",
    "unk_token": added_token("<unk>"),
}
LLAMA2_SPECIAL_TOKENS_MAP = {
    k: {kk: vv for kk, vv in added_token(c).items() if kk != "__type"}
    for k, c in (("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))
}
LLAMA2_GENERATION_CONFIG = {"bos_token_id": 1, "do_sample": True, "eos_token_id": 2,
                            "max_length": 4096, "pad_token_id": 0, "temperature": 0.6,
                            "top_p": 0.9, "transformers_version": "4.31.0.dev0"}


def fail(msg):
    raise SystemExit("pink_reference: " + msg)


@contextlib.contextmanager
def working_dir(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def folder_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# --------------------------------------------------------------------------- the checkpoint

def randomise(module, torch, gen, norm_types):
    """std 0.2 for weights and biases; norm weights uniform in [0.5, 1.5], norm biases std 0.2."""
    with torch.no_grad():
        for name, m in module.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                if isinstance(m, norm_types) and pname == "weight":
                    v = torch.rand(p.shape, generator=gen) + 0.5
                else:
                    v = torch.randn(p.shape, generator=gen) * 0.2
                p.data.copy_(v.to(p.dtype))


def build_llama(torch, transformers, out, tokenizer_model, gen):
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                      rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
                      pad_token_id=None, tie_word_embeddings=False, hidden_act="silu",
                      initializer_range=0.02, pretraining_tp=1, use_cache=True)
    model = LlamaForCausalLM(cfg)
    randomise(model, torch, gen, (LlamaRMSNorm,))
    model.half()
    d = os.path.join(out, LLAMA_DIR)
    model.save_pretrained(d, safe_serialization=False, max_shard_size="200KB")
    index_path = os.path.join(d, "pytorch_model.bin.index.json")
    index = json.load(open(index_path))
    shards = sorted(set(index["weight_map"].values()))
    if len(shards) != 2:
        fail(f"expected 2 LLaMA shards, got {shards}")
    # The 2023 conversion (transformers 4.31) saved rotary_emb.inv_freq with the weights.
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    for shard in shards:
        path = os.path.join(d, shard)
        sd = torch.load(path, map_location="cpu")
        for i in range(cfg.num_hidden_layers):
            if f"model.layers.{i}.input_layernorm.weight" in sd:
                key = f"model.layers.{i}.self_attn.rotary_emb.inv_freq"
                sd[key] = inv_freq.half().clone()
                index["weight_map"][key] = shard
        torch.save(sd, path)
    index["weight_map"] = dict(sorted(index["weight_map"].items()))
    json.dump(index, open(index_path, "w"), indent=2)
    shutil.copyfile(tokenizer_model, os.path.join(d, "tokenizer.model"))
    json.dump(LLAMA2_TOKENIZER_CONFIG, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    json.dump(LLAMA2_SPECIAL_TOKENS_MAP, open(os.path.join(d, "special_tokens_map.json"), "w"),
              indent=2)
    json.dump(LLAMA2_GENERATION_CONFIG, open(os.path.join(d, "generation_config.json"), "w"),
              indent=2)
    return d, cfg


def build_clip(torch, out, gen):
    from transformers import CLIPConfig, CLIPModel, CLIPImageProcessor
    cfg = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=8, projection_dim=16,
                         hidden_act="quick_gelu", layer_norm_eps=1e-5),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                           num_attention_heads=4, image_size=32, patch_size=8, num_channels=3,
                           projection_dim=16, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=16)
    model = CLIPModel(cfg)
    randomise(model, torch, gen, (torch.nn.LayerNorm,))
    d = os.path.join(out, CLIP_DIR)
    model.save_pretrained(d)  # fp32 model.safetensors, as the openai folder
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}) \
        .save_pretrained(d)
    return d


def build_pink(torch, transformers, out, llama_dir, clip_dir, gen):
    """Pink's training set-up (pink/train/train.py:209-332, scripts/stage2.sh) on the tiny folders,
    then random 'trained' values, then PinkTrainer._save."""
    from transformers import AutoTokenizer
    from pink.model import PinkConfig, PinkModel
    from pink.model.adapter import AdapterLayer
    llama_cfg = json.load(open(os.path.join(llama_dir, "config.json")))
    keep = {k: v for k, v in llama_cfg.items()
            if k not in ("architectures", "model_type", "torch_dtype", "transformers_version")}
    config = PinkConfig(llama_path=llama_dir, clip_path=clip_dir, clip_select_layer=-2,
                        adapter_vision_enable=True, adapter_vision_dim=8, adapter_vision_scale=1.0,
                        adapter_vision_dropout=0.1, adapter_attn=True, adapter_mlp=False,
                        adapter_llm_enable=True, adapter_llm_dim=8, adapter_llm_scale=1.0,
                        adapter_llm_dropout=0.1, adapter_non_linear=False, crop_size=32, **keep)
    model = PinkModel(config)  # loads CLIP from clip_path, with the vision adapters
    # LLaMA-2's weights under it (train.py:213-228 merges the shards the same way).
    index = json.load(open(os.path.join(llama_dir, "pytorch_model.bin.index.json")))
    sd = {}
    for shard in sorted(set(index["weight_map"].values())):
        sd.update(torch.load(os.path.join(llama_dir, shard), map_location="cpu"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    unexpected = [k for k in unexpected if "rotary_emb.inv_freq" not in k]
    if unexpected or any(not (k.startswith("vision_model.") or k.startswith("mm_projector.")
                              or "adapter_" in k) for k in missing):
        fail(f"LLaMA shards do not fit PinkModel: missing {missing} unexpected {unexpected}")

    tokenizer = AutoTokenizer.from_pretrained(llama_dir, model_max_length=2048,
                                              padding_side="right", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    model.initialize_vision_tokenizer(tokenizer=tokenizer)
    dtype = torch.bfloat16  # --bf16 True
    model.model.to(dtype)
    model.lm_head.to(dtype)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.mm_projector.parameters():  # --tune_mm_mlp_adapter True
        p.data = p.data.float()
        p.requires_grad = True
    for name, p in model.vision_model.named_parameters():  # --freeze_vit False, visual adapters
        if "adapter_" in name:
            p.data = p.data.float()
            p.requires_grad = True
    for name, p in model.model.named_parameters():  # --freeze_llm False, llm adapters
        if "adapter_" in name:
            p.data = p.data.float()
            p.requires_grad = True
    model.add_mark_tokens(tokenizer, device="cpu", freeze=True)  # --add_mark_tokens True

    # "Training": random values for everything saved_parameters.pth holds.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.data.copy_((torch.randn(p.shape, generator=gen) * 0.2).to(p.dtype))
        eos = tokenizer.eos_token_id
        model.lm_head.weight.data[eos].zero_()
    if len(tokenizer) != 512 + 13 or model.config.vocab_size != 525:
        fail(f"vocabulary is {len(tokenizer)} / {model.config.vocab_size}, expected 525")
    if [tokenizer.convert_tokens_to_ids(t) for t in PINK_TOKENS] != list(range(512, 525)):
        fail("Pink's tokens did not get ids 512..524 in Pink's order")

    # PinkTrainer._save (pink/train/pink_trainer.py:50-70), without the orig_embeds_params
    # restore (the tiny run keeps its random base rows, see the module doc).
    d = os.path.join(out, PINK_DIR)
    os.makedirs(d)
    state_dict = model.state_dict()
    need_to_save = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            need_to_save[name] = state_dict[name]
    need_to_save["model.embed_tokens.weight"] = state_dict["model.embed_tokens.weight"]
    need_to_save["lm_head.weight"] = state_dict["lm_head.weight"]
    need_to_save = {k: v.detach().clone().contiguous() for k, v in need_to_save.items()}
    torch.save(need_to_save, os.path.join(d, "saved_parameters.pth"))
    model.config.use_cache = False  # train.py:238
    model.save_pretrained(d, state_dict={}, safe_serialization=False)
    for f in ("pytorch_model.bin", "model.safetensors"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    tokenizer.save_pretrained(d)
    # The folders relative to the Pink folder (the released config has the authors' own paths).
    cfg_path = os.path.join(d, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["llama_path"] = "../" + LLAMA_DIR
    cfg["clip_path"] = "../" + CLIP_DIR
    json.dump(cfg, open(cfg_path, "w"), indent=2, sort_keys=True)
    return d, need_to_save


# --------------------------------------------------------------------------- Pink's own loading

def load_like_demo(torch, pink_dir):
    """demo.py _load_model_tokenizer :50-75 / eval model_pointingvqa_local.py :103-128, fp32."""
    from transformers import AutoTokenizer, AutoModelForCausalLM, AutoConfig
    with working_dir(pink_dir):
        tokenizer = AutoTokenizer.from_pretrained(".", use_fast=False, padding_side="left")
        config = AutoConfig.from_pretrained(".", use_cache=True)
        model_name = "."
        if config.llama_path != model_name:
            llama_path = config.llama_path
            weight_map_index = json.load(
                open(os.path.join(llama_path, "pytorch_model.bin.index.json"), "r"))
            shard_files = list(set(weight_map_index["weight_map"].values()))
            state_dict = {}
            for shard_file in shard_files:
                state_dict.update(torch.load(os.path.join(llama_path, shard_file),
                                             map_location="cpu"))
            peft_parameters = torch.load(os.path.join(model_name, "saved_parameters.pth"),
                                         map_location="cpu")
            for k, v in peft_parameters.items():
                state_dict[k] = v
        else:
            fail("config.llama_path names the Pink folder itself")
        model = AutoModelForCausalLM.from_pretrained(None, config=config, state_dict=state_dict)
        # (the scripts' .half() of model.model and lm_head is skipped: fp32 fixture)
    model.eval()
    return model, tokenizer, state_dict


def check_loaded(torch, model, state_dict, clip_dir):
    """Every parameter of Pink's model is the tensor its loading meant it to be."""
    from safetensors.torch import load_file
    clip = load_file(os.path.join(clip_dir, "model.safetensors"))
    n = 0
    for name, p in model.named_parameters():
        if name in state_dict:
            want = state_dict[name].float()
        elif name.startswith("vision_model.") and name[len("vision_model."):] in clip:
            want = clip[name[len("vision_model."):]]
        else:
            fail(f"parameter {name} came from nowhere")
        if p.dtype != torch.float32 or not torch.equal(p.data, want):
            fail(f"parameter {name} differs from its source after Pink's loading")
        n += 1
    deleted = [i for i, layer in enumerate(model.vision_model.vision_model.encoder.layers)
               if not hasattr(layer, "adapter_attn")]
    if deleted != [2]:
        fail(f"CLIP layers without adapters: {deleted}, expected [2]")
    return n


def image_processor(crop_size):
    from torchvision import transforms
    from torchvision.transforms.functional import InterpolationMode
    norm_mean = (0.48145466, 0.4578275, 0.40821073)
    norm_std = (0.26862954, 0.26130258, 0.27577711)
    return transforms.Compose([
        transforms.Resize((crop_size, crop_size), interpolation=InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize(norm_mean, norm_std),
    ])


def build_prompt(messages, image_token_len, with_image=True):
    """demo.py predict :104-128 with conv_llama2.copy() (the eval scripts' conv_templates[...].copy())."""
    from pink.conversation import conv_llama2
    PREFIX_IMAGE = "Image: "
    PREFIX_NO_IMAGE = "Image: N/A"
    DEFAULT_IMAGE_PATCH_TOKEN = "<im_patch>"
    conv = conv_llama2.copy()
    conv.messages = []
    conv.set_system(PREFIX_IMAGE + image_token_len * DEFAULT_IMAGE_PATCH_TOKEN if with_image
                    else PREFIX_NO_IMAGE)
    for q, a in messages:
        conv.append_message(conv.roles[0], q)
        conv.append_message(conv.roles[1], a)
    return conv.get_prompt()


def tokenize(tokenizer, prompt):
    out = tokenizer([prompt], return_tensors="pt", padding="longest",
                    max_length=tokenizer.model_max_length, truncation=True)
    return out.input_ids, out.attention_mask


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pink", default=os.environ.get("PINK_SRC"),
                    help="folder holding Pink's `pink` package (or $PINK_SRC)")
    ap.add_argument("--pink-commit", default=os.environ.get("PINK_COMMIT", ""),
                    help="the Pink commit the folder was extracted from (recorded)")
    ap.add_argument("--tokenizer", default="resources/models/shapes-tiny/tokenizer.model")
    ap.add_argument("--out", default="tests/reference/pink")
    ap.add_argument("--seed", type=int, default=20240301)
    args = ap.parse_args()
    if not args.pink or not os.path.isfile(os.path.join(args.pink, "pink", "model", "pink.py")):
        fail("--pink (or PINK_SRC) must name the extracted SY-Xuan/Pink source folder")
    pink_src = os.path.abspath(args.pink)
    tokenizer_model = os.path.abspath(args.tokenizer)
    out_dir = os.path.abspath(args.out)
    sys.path.insert(0, pink_src)

    import numpy as np
    import PIL
    import torch
    import torchvision
    import transformers
    from PIL import Image
    from safetensors.torch import save_file
    import pink  # noqa: F401  (registers "pink" with AutoConfig / AutoModelForCausalLM)
    from pink.model import PinkModel

    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(args.seed)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    stage = tempfile.mkdtemp(prefix=".pink-stage-", dir=parent)
    try:
        with torch.enable_grad():  # requires_grad flags drive what PinkTrainer saves
            llama_dir, _ = build_llama(torch, transformers, stage, tokenizer_model, gen)
            clip_dir = build_clip(torch, stage, gen)
            pink_dir, saved = build_pink(torch, transformers, stage, llama_dir, clip_dir, gen)

        # The test image: 40x30 random RGB, lossless PNG.
        rng = np.random.default_rng(args.seed)
        pixels = rng.integers(0, 256, size=(IMAGE_H, IMAGE_W, 3), dtype=np.uint8)
        image_path = os.path.join(stage, "image.png")
        Image.fromarray(pixels, "RGB").save(image_path)
        if not np.array_equal(np.asarray(Image.open(image_path).convert("RGB")), pixels):
            fail("PNG round trip is not lossless")

        # ---- Pink's own loading, preprocessing, prompt, tokenizer, forward, generate.
        model, tokenizer, state_dict = load_like_demo(torch, pink_dir)
        if not isinstance(model, PinkModel):
            fail(f"AutoModelForCausalLM built {type(model).__name__}, not PinkModel")
        n_params = check_loaded(torch, model, state_dict, clip_dir)
        crop_size = model.config.crop_size
        image_token_len = model.config.num_patches
        if (crop_size, image_token_len, model.config.im_patch_token) != (32, 16, 512):
            fail(f"unexpected crop_size/num_patches/im_patch_token {crop_size} "
                 f"{image_token_len} {model.config.im_patch_token}")

        image = Image.open(image_path).convert("RGB")
        pixel_values = image_processor(crop_size)(image).unsqueeze(0)

        w, h = image.size
        scaled = [BOX_PX[0] / w, BOX_PX[1] / h, BOX_PX[2] / w, BOX_PX[3] / h]
        box_text = "<loc>" + "[{:.3f},{:.3f},{:.3f},{:.3f}]".format(*scaled) + "</loc>"
        q1 = Q1.format(box=box_text)
        conversation = [(q1, A1), (Q2, None)]
        prompt = build_prompt(conversation, image_token_len)
        input_ids, attention_mask = tokenize(tokenizer, prompt)
        ids = input_ids[0].tolist()
        if ids.count(512) != image_token_len:
            fail("the prompt does not hold num_patches <im_patch> tokens")
        if not bool(attention_mask.all()):
            fail("attention mask has padding")

        out = model(input_ids=input_ids, images=pixel_values, has_images=[True],
                    attention_mask=attention_mask)
        logits = out.logits.float()
        gen_ids = model.generate(input_ids, images=pixel_values, has_images=[True],
                                 attention_mask=attention_mask, do_sample=False, num_beams=1,
                                 max_new_tokens=GREEDY_STEPS)
        greedy = gen_ids[0, input_ids.shape[1]:]
        if greedy.numel() != GREEDY_STEPS:
            fail(f"generate stopped after {greedy.numel()} tokens")
        if tokenizer.eos_token_id in greedy.tolist():
            fail("EOS in the greedy continuation")
        # The same greedy continuation by a plain loop over Pink's forward (no cache).
        seq = input_ids
        for _ in range(GREEDY_STEPS):
            lg = model(input_ids=seq, images=pixel_values, has_images=[True],
                       attention_mask=torch.ones_like(seq)).logits
            seq = torch.cat([seq, lg[:, -1].argmax(-1, keepdim=True)], dim=1)
        if not torch.equal(seq[0, input_ids.shape[1]:], greedy):
            fail("generate() and the manual greedy loop disagree")
        if not torch.equal(logits.argmax(-1)[0, -1], greedy[0]):
            fail("last-position argmax of the logits is not the first greedy token")
        answer = tokenizer.batch_decode(greedy.unsqueeze(0), skip_special_tokens=True)[0].strip()

        # The first question alone (what a chat's first ask() sends), greedy as well.
        one_turn_prompt = build_prompt([(q1, None)], image_token_len)
        one_ids, one_mask = tokenize(tokenizer, one_turn_prompt)
        one_gen = model.generate(one_ids, images=pixel_values, has_images=[True],
                                 attention_mask=one_mask, do_sample=False, num_beams=1,
                                 max_new_tokens=GREEDY_STEPS)
        greedy_one = one_gen[0, one_ids.shape[1]:]
        if greedy_one.numel() != GREEDY_STEPS or tokenizer.eos_token_id in greedy_one.tolist():
            fail("the one-turn greedy continuation is not 20 tokens without EOS")
        answer_one = tokenizer.batch_decode(greedy_one.unsqueeze(0),
                                            skip_special_tokens=True)[0].strip()

        # ---- Other tokenizations of the same strings, for diagnosis.
        from transformers import AutoTokenizer
        with working_dir(pink_dir):
            tok_legacy = AutoTokenizer.from_pretrained(".", use_fast=False, padding_side="left",
                                                       legacy=True)
        no_image_prompt = build_prompt([(q1, None)], image_token_len, with_image=False)

        # The same SentencePiece pieces under LLaMA-2's own normalizer (identity, no removal of
        # extra whitespace): what the real tokenizer.model does with spaces and newlines.
        from transformers.utils import sentencepiece_model_pb2_new as sp_pb2
        proto = sp_pb2.ModelProto.FromString(open(tokenizer_model, "rb").read())
        proto.normalizer_spec.name = "identity"
        proto.normalizer_spec.precompiled_charsmap = b""
        proto.normalizer_spec.remove_extra_whitespaces = False
        proto.normalizer_spec.add_dummy_prefix = True
        llama_norm = os.path.join(stage, "tokenizer-llama-normalizer.model")
        open(llama_norm, "wb").write(proto.SerializeToString())
        with tempfile.TemporaryDirectory() as tdir:
            for f in os.listdir(pink_dir):
                if f.startswith("tokenizer") or f.endswith("tokens.json") or \
                        f == "special_tokens_map.json":
                    shutil.copyfile(os.path.join(pink_dir, f), os.path.join(tdir, f))
            shutil.copyfile(llama_norm, os.path.join(tdir, "tokenizer.model"))
            tok_ln = AutoTokenizer.from_pretrained(tdir, use_fast=False, padding_side="left")
            tok_ln_legacy = AutoTokenizer.from_pretrained(tdir, use_fast=False,
                                                          padding_side="left", legacy=True)

        def ids_of(tok, text):
            return tokenize(tok, text)[0][0].tolist()

        def pieces_of(tok, text):
            return tok.convert_ids_to_tokens(ids_of(tok, text))

        # ---- Write.
        versions = {
            "transformers": transformers.__version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "pillow": PIL.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0],
            "pink_commit": args.pink_commit,
            "sentencepiece": __import__("sentencepiece").__version__,
        }
        meta = {"versions": json.dumps(versions), "prompt": prompt}
        save_file({
            "input_ids": input_ids.to(torch.int64).contiguous(),
            "attention_mask": attention_mask.to(torch.int64).contiguous(),
            "pixel_values": pixel_values.float().contiguous(),
            "logits": logits.contiguous(),
            "greedy_ids": greedy.to(torch.int64).contiguous(),
            "input_ids_one_turn": one_ids.to(torch.int64).contiguous(),
            "greedy_ids_one_turn": greedy_one.to(torch.int64).contiguous(),
        }, os.path.join(stage, "reference.safetensors"), metadata=meta)

        saved_layout = {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                        for k, v in saved.items()}
        record = {
            "about": "Pink's own code (SY-Xuan/Pink) on the tiny checkpoint set in this folder; "
                     "written by tools/reference/pink_reference.py",
            "versions": versions,
            "folders": {"pink": PINK_DIR, "llama": LLAMA_DIR, "clip": CLIP_DIR},
            "image": {"file": "image.png", "width": w, "height": h, "sha256": sha256(image_path)},
            "box_pixels": BOX_PX,
            "box_text": box_text,
            "messages": [{"role": "user", "text": q1, "image": True},
                         {"role": "assistant", "text": A1},
                         {"role": "user", "text": Q2}],
            "prompt": prompt,
            "prompt_one_turn": one_turn_prompt,
            "prompt_no_image": no_image_prompt,
            "crop_size": crop_size, "num_patches": image_token_len,
            "im_patch_token": model.config.im_patch_token,
            "vocab_size": model.config.vocab_size,
            "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id,
            "added_tokens": {t: tokenizer.convert_tokens_to_ids(t) for t in PINK_TOKENS},
            "input_ids": ids,
            "input_pieces": tokenizer.convert_ids_to_tokens(ids),
            "input_ids_one_turn": one_ids[0].tolist(),
            "input_ids_no_image": ids_of(tokenizer, no_image_prompt),
            "tokenizer_legacy": bool(tokenizer.legacy),
            "input_ids_legacy_true": ids_of(tok_legacy, prompt),
            "input_pieces_legacy_true": pieces_of(tok_legacy, prompt),
            "llama_normalizer": {
                "about": "the same pieces with LLaMA-2's normalizer (identity, extra whitespace "
                         "kept): tokenizer-llama-normalizer.model",
                "tokenizer": "tokenizer-llama-normalizer.model",
                "input_ids": ids_of(tok_ln, prompt),
                "input_pieces": pieces_of(tok_ln, prompt),
                "input_ids_legacy_true": ids_of(tok_ln_legacy, prompt),
                "input_pieces_legacy_true": pieces_of(tok_ln_legacy, prompt),
            },
            "greedy_ids": greedy.tolist(),
            "greedy_text": answer,
            "greedy_ids_one_turn": greedy_one.tolist(),
            "greedy_text_one_turn": answer_one,
            "logits_shape": list(logits.shape),
            "logits_max_abs": float(logits.abs().max()),
            "parameters_checked": n_params,
            "saved_parameters": saved_layout,
        }
        with open(os.path.join(stage, "reference.json"), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
            f.write("\n")

        size = folder_size(stage)
        if size > SIZE_LIMIT:
            fail(f"fixtures take {size} bytes, over {SIZE_LIMIT}")
        # Swap into place.
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".pink-old-", dir=parent)
            os.rename(out_dir, os.path.join(old, "pink"))
        os.chmod(stage, 0o755)  # mkdtemp made it 0700
        os.rename(stage, out_dir)
        stage = None
        if old:
            shutil.rmtree(old)
        print(f"wrote {out_dir} ({size} bytes)")
        print("prompt[:200]:", repr(prompt[:200]))
        print("input_ids:", ids)
        print("greedy_ids:", greedy.tolist(), repr(answer))
    finally:
        if stage and os.path.exists(stage):
            shutil.rmtree(stage)


if __name__ == "__main__":
    main()
