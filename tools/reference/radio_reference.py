#!/usr/bin/env python3
"""Reference fixture for CoLVA's object tokenizer: RADIO (NVIDIA's own radio_*.py, as CoLVA's
HF folder projects/colva/colva_hf/internvl2_4b/ ships them) + the adapter ot_mlp1 + the masked
mean of MMVMEvalKit's WrapInternVL.llm_forward_my_imple, with the kit's input steps (the image's
longest side resized to the canvas with PIL's default filter, pasted top-left on white; masks
zero-padded to a square, bilinear to the canvas, bilinear to the patch grid, > 0.55).

    tools/reference/make-venv-pargo.sh   # torch 2.0.1, timm 0.9.16, einops (once)
    /work/venv-pargo/bin/python tools/reference/radio_reference.py \
        --colva /work/.mirror/zhouyiks+CoLVA/repo [--out tests/reference/radio]

`--colva` is a clone (or bare mirror) of github.com/zhouyiks/CoLVA: RADIO's files are read from
it into a temporary package and imported; nothing of them is copied into this repository.

A tiny random model: timm VisionTransformer (width 32, 2 blocks, 2 heads, mlp 64, patch 16)
with RADIO's CPE patch generator (cpe_max_size 128: an 8x8 position table, interpolated to the
4x4 grid of the 64-px canvas), 3 CLS tokens + 1 register (register_multiple 4), no final norm;
ot_mlp1 32 -> 96 (the hidden size of tools/reference/internvl_reference.py's Phi-3, so the two fixtures make one CoLVA). Input: a 90x60 image and three masks (one empty).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

RADIO_FILES = ["radio_model.py", "radio_enable_cpe_support.py", "radio_vit_patch_generator.py",
               "radio_cls_token.py", "radio_input_conditioner.py", "radio_enable_spectral_reparam.py",
               "radio_eradio_model.py", "radio_adaptor_base.py", "radio_common.py",
               "radio_adaptor_registry.py", "radio_adaptor_generic.py", "radio_adaptor_mlp.py",
               "radio_extra_timm_models.py", "radio_open_clip_adaptor.py", "radio_vitdet.py"]
HF_DIR = "projects/colva/colva_hf/internvl2_4b/"


def import_radio(repo):
    tmp = tempfile.mkdtemp()
    pkg = os.path.join(tmp, "colva_radio")
    os.makedirs(pkg)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    bare = os.path.isdir(os.path.join(repo, "objects"))
    for f in RADIO_FILES:
        if bare:
            text = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:" + HF_DIR + f],
                                  check=True, capture_output=True).stdout
        else:
            text = open(os.path.join(repo, HF_DIR, f), "rb").read()
        open(os.path.join(pkg, f), "wb").write(text)
    sys.path.insert(0, tmp)
    import colva_radio.radio_model as rm
    import colva_radio.radio_enable_cpe_support as cpe
    import colva_radio.radio_input_conditioner as ic
    return rm, cpe, ic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--colva", required=True)
    ap.add_argument("--out", default="tests/reference/radio")
    ap.add_argument("--seed", type=int, default=21)
    a = ap.parse_args()
    rm, cpe, ic = import_radio(a.colva)
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed)
    width, canvas, patch = 32, 64, 16
    vit = VisionTransformer(img_size=224, patch_size=patch, embed_dim=width, depth=2, num_heads=2,
                            mlp_ratio=2.0, qkv_bias=True, num_classes=0)
    vit.norm = nn.Identity()  # create_model_from_args: model_norm false
    vit.head = nn.Identity()
    cpe.enable_cpe(vit, 128, num_cls_tokens=3, register_multiple=4)
    cond = ic.InputConditioner(1.0, (0.5, 0.45, 0.4), (0.25, 0.26, 0.27))
    radio = rm.RADIOModel(vit, cond, patch_size=patch, max_resolution=2048,
                          preferred_resolution=rm.Resolution(432, 432),
                          summary_idxs=torch.tensor([0, 1])).eval()
    ot_mlp1 = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 96), nn.GELU(), nn.Linear(96, 96)).eval()
    with torch.no_grad():
        for mod in (radio, ot_mlp1):
            for n, p in mod.named_parameters():
                if p.dim() == 1:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if "norm" in n else 0.0))
                elif "pos_embed" in n or "token" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)

    # The inputs: a 90x60 RGB image and three masks over it (the last empty).
    rng = np.random.RandomState(a.seed)
    img = (rng.rand(60, 90, 3) * 255).astype(np.uint8)
    img[10:40, 20:70] = [200, 40, 30]
    masks = np.zeros((3, 60, 90), np.uint8)
    masks[0, 10:40, 20:70] = 255
    masks[1, 30:58, 5:40] = 255
    os.makedirs(a.out, exist_ok=True)
    Image.fromarray(img).save(os.path.join(a.out, "image.png"))
    for i in range(3):
        Image.fromarray(masks[i]).save(os.path.join(a.out, "mask_%d.png" % i))

    # The kit's steps (internvl_matcher.py generate_inner / llm_forward_my_imple) at `canvas`.
    image = Image.fromarray(img)
    w, h = image.size
    target = (canvas, int(h / w * canvas)) if w > h else (int(w / h * canvas), canvas)
    resized = image.resize(target)
    padded = np.ones((canvas, canvas, 3), np.uint8) * 255
    padded[:resized.size[1], :resized.size[0]] = np.array(resized)
    pixels = torch.from_numpy(padded).permute(2, 0, 1).float().div(255).unsqueeze(0)  # rescale only
    regions = torch.from_numpy((masks > 0).astype(np.float32))
    side = max(regions.shape[-2:])
    pad = regions.new_zeros((regions.shape[0], side, side))
    pad[:, :regions.shape[1], :regions.shape[2]] = regions
    vp = F.interpolate(pad.unsqueeze(0), size=(canvas, canvas), mode="bilinear").squeeze(0)
    with torch.no_grad():
        summary, feats = radio(pixels)
        ot = ot_mlp1(feats)
        grid = canvas // patch
        m = F.interpolate(vp[:, None], (grid, grid), mode="bilinear")
        m = (m > 0.55).to(ot.dtype).reshape(vp.shape[0], -1)
        n = torch.sum(m, dim=-1)
        obj = torch.sum(m[:, :, None] / (n[:, None, None] + 1e-4) * ot[0][None], dim=1)

    tensors = {}
    for k, v in radio.state_dict().items():
        tensors["object_tokenizer.radio_model." + k] = v.detach().contiguous().clone()
    for k, v in ot_mlp1.state_dict().items():
        tensors["ot_mlp1." + k] = v.detach().contiguous().clone()
    tensors.update({"ref.pixels": pixels.contiguous(), "ref.features": feats[0].contiguous(),
                    "ref.ot": ot[0].contiguous(), "ref.mask_grid": m.contiguous(),
                    "ref.objects": obj.contiguous()})
    save_file(tensors, os.path.join(a.out, "reference.safetensors"))
    import timm
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "timm": timm.__version__, "canvas": canvas,
                   "patch": patch, "width": width, "depth": 2, "heads": 2, "mlp": 64,
                   "pos_grid": 8, "prefix_tokens": 4, "ot_width": 96,
                   "radio_config": {"args": {"model": "vit_huge_patch16_224", "cpe_max_size": 128,
                                             "cls_token_per_teacher": True,
                                             "teachers": [{}, {}, {}], "register_multiple": 4,
                                             "model_norm": False},
                                    "patch_size": patch, "max_resolution": 2048,
                                    "regionchat": {"width": width, "depth": 2, "heads": 2,
                                                   "mlp": 64, "canvas": canvas}}}, f, indent=1)
    print("features", tuple(feats.shape), "objects", tuple(obj.shape), "mask counts", n.tolist())


if __name__ == "__main__":
    main()
