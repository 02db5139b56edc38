#!/usr/bin/env python3
"""Reference fixtures from DualFocus' OWN evaluation code, for RegionChat's C++ engine.

How to run (from the repository root; nothing of DualFocus is copied into the repo):

    tools/reference/make-venv-dualfocus.sh /work/venv-df          # once
    git -C <InternLM-XComposer git dir> archive HEAD:projects/DualFocus | tar -x -C /tmp/dfsrc/DualFocus
    /work/venv-df/bin/python tools/reference/dualfocus_reference.py --dualfocus /tmp/dfsrc/DualFocus \
        [--dualfocus-commit 0f70c3e3...] [--model resources/models/shapes-tiny] \
        [--samples resources/samples] [--out tests/reference/dualfocus]

`--dualfocus` (or $DUALFOCUS_SRC) is the folder that holds the `dualfocus` package; it is put on
sys.path and imported from there. Any error exits non-zero; the fixtures are written to a
temporary folder first and moved into --out only when everything succeeded, so a failed run
leaves no partial fixtures (the previous set, if any, stays as it was).

What it writes (compact JSON, one record per line, plus one safetensors file):

* model_cases.json -- 8 cases on resources/samples/*.png run through the eval scripts' own
  `eval_model` (dualfocus/eval/model_vqa_textvqa.py:70-200 for 5 open-ended questions,
  dualfocus/eval/model_vqa_gqa.py:71-227 for 4 multiple-choice ones), executed unchanged with
  recording wrappers around the names they call: generate (textvqa :32-67, gqa :33-68),
  mm_utils.tokenizer_image_token (:43-62), mm_utils.process_images (:28-40; expand2square
  :14-25), misc/boxes.py find_boxes (:53-61), denorm_bbox (:11-15), expand_box (:31-43),
  enlarge_box (:18-28), misc/eval.py process_outputs (:1-18), train/train.py preprocess
  (:582-627 -> preprocess_v1 :411-491), DataCollatorForSupervisedDataset (:752-790) and
  model.forward with reduction='none' (model/language_model/llava_llama.py:95-115). The model is
  loaded by model/builder.py load_pretrained_model (:26-151) from a temporary folder in the
  original LLaVA layout converted from --model (LLaMA keys at top, projector as
  model.mm_projector.0/.2, a CLIPVisionModel folder as mm_vision_tower).
* pixel_values.safetensors -- the float32 pixel_values their process_images produced for the
  first case: "full" (1,3,S,S) and "crop" (1,3,S,S); metadata "info" (a JSON string) names the
  case, image, crop rect and crop size.
* crop_rects.json -- 1,000 seeded normalised boxes on a 480x640 and a 640x427 image through the
  box block of the eval scripts (textvqa :124-137, the same lines in gqa :131-144):
  denorm_bbox, expand_box, enlarge_box, .astype(np.int32), numpy crop, Image.fromarray; "no box"
  (null) when that block raises. Empty crops (the block does not raise, but process_images,
  outside the try, then does) are listed with the error process_images raised.
* find_boxes.json -- misc/boxes.py find_boxes on tricky strings: all boxes found (first = used).
* process_outputs.json -- misc/eval.py process_outputs on answers x option lists, with the
  validity test the MCQ scripts apply (`ans.upper() in ['A','B','C','D']`, gqa :20,116).

Patches (all by monkeypatching at run time, none of their files is edited):
* dualfocus.model.builder.torch and the eval modules' `torch` -> a proxy module whose
  float16/half attribute is torch.float32 (builder :40 torch_dtype, :143 vision_tower.to, the
  eval scripts' generate `image_tensor.to(dtype=torch.float16)`): weights and images stay fp32.
* the eval modules' load_pretrained_model -> the real one with device_map='cpu', device='cpu'
  (eval_model hard-codes 'cuda'), loaded once and reused; generate -> the real one with
  device='cpu'.
* torch.Tensor.cuda and torch.Tensor.half -> identity, only while eval_model runs (the scoring
  block's `.cuda()` / `.half()`, textvqa :179-184, gqa :203-208).
* the eval modules' and train.py's `print` -> captured into the record.
No sys.modules stubs are needed (no xformers / flash-attn / deepspeed import happens at load).

The builder resizes the embeddings to len(tokenizer) = 512 (builder.py :138), dropping the
image-token row 512 of the 513-row checkpoint; "nll" is that model's loss (vocab 512).
"nll_vocab513" is the same forward through LlavaLlamaForCausalLM loaded without the resize
(the softmax then also includes row 512), and "vocab513_same" says whether greedy generation
gives the same ids with it.
"""
import argparse
import contextlib
import copy
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import traceback
import types

FIXTURES = ["model_cases.json", "pixel_values.safetensors", "crop_rects.json",
            "find_boxes.json", "process_outputs.json"]

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# (id, image, question line, the exception their eval_model raises on it or None).
TEXTVQA_CASES = [
    ("tv1", "scene_1000000000.png", "What shape is the red object?", None),
    ("tv2", "scene_1000000000.png", "What color is the triangle?", None),
    ("tv3", "scene_1000000002.png", "What shape is the purple object?", None),
    ("tv4", "scene_1000000005.png", "What color is the square?", None),
    # the box pass answers a colour, no box: textvqa :167 then reads the unset cot_answer
    ("tv5", "scene_1000000002.png", "What color is the square at the bottom right?",
     "UnboundLocalError"),
]
GQA_CASES = [
    # macro "triangle" -> "C"; micro "circle" -> "c" (first-letter rule keeps the case); both
    # valid -> perplexity, where options[ord("c") - ord("A")] (gqa :191) is out of range
    ("gqa1", "scene_1000000000.png", "What shape is the red object?\nA. circle\nB. star\nC. triangle",
     "IndexError"),
    ("gqa2", "scene_1000000000.png", "What color is the triangle?\nA. green\nB. blue\nC. yellow", None),
    ("gqa3", "scene_1000000002.png",
     "What color is the square at the bottom right?\nA. red\nB. green\nC. purple\nD. orange", None),
    ("gqa4", "scene_1000000005.png", "What shape is the red object?\nA. triangle\nB. square\nC. star",
     None),
]


# --------------------------------------------------------------------------- helpers

def tolist(x):
    import numpy as np
    import torch
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def dump_compact(path, obj):
    """A dict per line for top-level keys; lists of dicts/lists get one element per line."""
    lines = ["{"]
    keys = list(obj.keys())
    for i, k in enumerate(keys):
        v = obj[k]
        comma = "," if i + 1 < len(keys) else ""
        if isinstance(v, list) and v and isinstance(v[0], (dict, list)):
            lines.append(json.dumps(k) + ":[")
            for j, e in enumerate(v):
                lines.append(json.dumps(e, separators=(",", ":"), ensure_ascii=False)
                             + ("," if j + 1 < len(v) else ""))
            lines.append("]" + comma)
        else:
            lines.append(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"),
                                                          ensure_ascii=False) + comma)
    lines.append("}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(path, encoding="utf-8"))  # must parse back


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def fp32_torch_proxy(torch):
    proxy = types.ModuleType("torch_fp32_proxy")

    def __getattr__(name):
        if name in ("float16", "half"):
            return torch.float32
        return getattr(torch, name)
    proxy.__getattr__ = __getattr__
    return proxy


@contextlib.contextmanager
def cpu_fp32_tensor_methods(torch):
    old_cuda, old_half = torch.Tensor.cuda, torch.Tensor.half
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.Tensor.half = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.Tensor.half = old_cuda, old_half


# --------------------------------------------------------------------------- conversion

def convert_checkpoint(model_dir, dst):
    """HF `llava` folder -> original LLaVA layout (+ CLIP vision folder). Returns model path."""
    import torch
    from safetensors.torch import load_file, save_file
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    tc, vc = cfg["text_config"], cfg["vision_config"]
    assert cfg["regionchat"]["projector_type"] == "mlp2x_gelu"
    assert cfg["vision_feature_select_strategy"] == "default"
    sd = load_file(os.path.join(model_dir, "model.safetensors"))

    clip_dir = os.path.join(dst, "clip-vision")
    llava_dir = os.path.join(dst, "llava-shapes-tiny")  # 'llava' in the name: builder.py :48
    os.makedirs(clip_dir)
    os.makedirs(llava_dir)

    lm, vision = {}, {}
    for k, v in sd.items():
        if k.startswith("language_model."):
            lm[k[len("language_model."):]] = v.contiguous()
        elif k.startswith("multi_modal_projector.linear_1."):
            lm["model.mm_projector.0." + k.split(".")[-1]] = v.contiguous()
        elif k.startswith("multi_modal_projector.linear_2."):
            lm["model.mm_projector.2." + k.split(".")[-1]] = v.contiguous()
        elif k.startswith("vision_tower.vision_model."):
            vision[k[len("vision_tower."):]] = v.contiguous()
        else:
            raise KeyError(f"unexpected checkpoint key {k}")
    for v in list(lm.values()) + list(vision.values()):
        assert v.dtype == torch.float32
    save_file(vision, os.path.join(clip_dir, "model.safetensors"), metadata={"format": "pt"})
    json.dump({
        "architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model",
        "hidden_size": vc["hidden_size"], "intermediate_size": vc["intermediate_size"],
        "num_hidden_layers": vc["num_hidden_layers"],
        "num_attention_heads": vc["num_attention_heads"], "image_size": vc["image_size"],
        "patch_size": vc["patch_size"], "num_channels": vc["num_channels"],
        "layer_norm_eps": vc["layer_norm_eps"], "hidden_act": vc["hidden_act"],
        "projection_dim": vc["hidden_size"], "torch_dtype": "float32",
    }, open(os.path.join(clip_dir, "config.json"), "w"), indent=1)
    s = vc["image_size"]
    json.dump({
        "crop_size": s, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "do_convert_rgb": True, "do_rescale": True, "rescale_factor": 1 / 255,
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3, "size": s,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_processor_type": "CLIPImageProcessor",
    }, open(os.path.join(clip_dir, "preprocessor_config.json"), "w"), indent=1)

    save_file(lm, os.path.join(llava_dir, "model.safetensors"), metadata={"format": "pt"})
    json.dump({
        "architectures": ["LlavaLlamaForCausalLM"], "model_type": "llava",
        "vocab_size": tc["vocab_size"], "hidden_size": tc["hidden_size"],
        "intermediate_size": tc["intermediate_size"],
        "num_hidden_layers": tc["num_hidden_layers"],
        "num_attention_heads": tc["num_attention_heads"],
        "num_key_value_heads": tc["num_key_value_heads"],
        "max_position_embeddings": tc["max_position_embeddings"],
        "rms_norm_eps": tc["rms_norm_eps"], "hidden_act": tc["hidden_act"],
        "rope_scaling": None, "pretraining_tp": 1, "initializer_range": 0.02,
        "tie_word_embeddings": False, "use_cache": True,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "torch_dtype": "float32",
        "mm_vision_tower": clip_dir, "mm_hidden_size": vc["hidden_size"],
        "mm_vision_select_layer": cfg["vision_feature_layer"],
        "mm_vision_select_feature": "patch", "mm_projector_type": "mlp2x_gelu",
        "image_aspect_ratio": "pad", "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "use_mm_proj": True,
        "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False,
        "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right",
    }, open(os.path.join(llava_dir, "config.json"), "w"), indent=1)
    assert abs(tc.get("rope_theta", 10000.0) - 10000.0) < 1e-9  # 4.31 LLaMA: base 10000 fixed

    shutil.copy(os.path.join(model_dir, "tokenizer.model"), llava_dir)
    json.dump({
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>",
        "clean_up_tokenization_spaces": False, "model_max_length": 2048,
        "padding_side": "right", "sp_model_kwargs": {},
        # "legacy" left out: transformers 4.31's default (None -> legacy behaviour)
    }, open(os.path.join(llava_dir, "tokenizer_config.json"), "w"), indent=1)
    json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "pad_token": "<unk>"},
              open(os.path.join(llava_dir, "special_tokens_map.json"), "w"), indent=1)
    return llava_dir, clip_dir


# --------------------------------------------------------------------------- model cases

class Recorder:
    def __init__(self):
        self.reset()

    def reset(self):
        self.passes = []
        self.pending = None
        self.box = {}
        self.images = []
        self.preprocessed = []
        self.forward = None
        self.prints = []
        self.process_outputs = []
        self.collated = None


def install_hooks(mod, train_mod, rec, loader):
    import numpy as np
    import torch

    orig = {n: getattr(mod, n) for n in (
        "generate", "tokenizer_image_token", "find_boxes", "denorm_bbox", "expand_box",
        "enlarge_box", "process_images", "preprocess")}

    def generate(model, prompt, image_tensor, tokenizer, device):
        rec.pending = {"prompt": prompt}
        out = orig["generate"](model, prompt, image_tensor, tokenizer, "cpu")
        rec.pending["output"] = out
        rec.passes.append(rec.pending)
        rec.pending = None
        return out

    def tokenizer_image_token(prompt, tokenizer, *a, **k):
        ids = orig["tokenizer_image_token"](prompt, tokenizer, *a, **k)
        if rec.pending is not None:
            rec.pending["input_ids"] = tolist(ids)
        return ids

    def find_boxes(s):
        r = orig["find_boxes"](s)
        rec.box["found"] = tolist(r)
        return r

    def denorm_bbox(b, h, w):
        r = orig["denorm_bbox"](b, h, w)
        rec.box["denorm"] = tolist(r)
        return r

    def expand_box(b, h, w):
        r = orig["expand_box"](b, h, w)
        rec.box["expanded"] = tolist(r)
        return r

    def enlarge_box(b, h, w):
        r = orig["enlarge_box"](b, h, w)
        rec.box["enlarged"] = tolist(r)
        rec.box["crop_rect"] = tolist(r[0].astype(np.int32))  # as textvqa :129 / gqa :136
        return r

    def process_images(images, processor, cfg):
        r = orig["process_images"](images, processor, cfg)
        rec.images.append({"size": list(images[0].size), "tensor": r.clone()})
        return r

    def preprocess(sources, tokenizer, has_image=False):
        r = orig["preprocess"](sources, tokenizer, has_image=has_image)
        rec.preprocessed.append({"sources": copy.deepcopy(sources),
                                 "conversation": r["conversations"][0],
                                 "input_ids": tolist(r["input_ids"][0]),
                                 "labels": tolist(r["labels"][0])})
        return r

    def capture_print(*a, **k):
        rec.prints.append(" ".join(str(x) for x in a))

    mod.generate = generate
    mod.tokenizer_image_token = tokenizer_image_token
    mod.find_boxes = find_boxes
    mod.denorm_bbox = denorm_bbox
    mod.expand_box = expand_box
    mod.enlarge_box = enlarge_box
    mod.process_images = process_images
    mod.preprocess = preprocess
    mod.print = capture_print
    train_mod.print = capture_print
    mod.load_pretrained_model = loader
    mod.torch = fp32_torch_proxy(torch)
    if hasattr(mod, "process_outputs"):
        orig_po = mod.process_outputs

        def process_outputs(outputs, options):
            r = orig_po(outputs, options)
            rec.process_outputs.append({"in": outputs, "options": list(options), "out": r})
            return r
        mod.process_outputs = process_outputs


def make_loader(builder, llava_cls, rec):
    import torch
    cache = {}

    def loader(model_path, model_base, model_name, load_8bit=False, load_4bit=False,
               device_map="auto", device="cuda"):
        if "tuple" in cache:
            return cache["tuple"]
        builder.torch = fp32_torch_proxy(torch)
        tok, model, proc, ctx = builder.load_pretrained_model(
            model_path, model_base, model_name, device_map="cpu", device="cpu")
        for p in list(model.parameters()) + list(model.get_vision_tower().parameters()):
            assert p.dtype == torch.float32 and p.device.type == "cpu", (p.dtype, p.device)
        model.eval()
        # The same checkpoint without builder.py's resize_token_embeddings(len(tokenizer)).
        m513 = llava_cls.from_pretrained(model_path, low_cpu_mem_usage=False)
        m513.get_vision_tower().load_model()
        m513.float().eval()

        orig_gen, orig_fwd = model.generate, model.forward

        @functools.wraps(orig_gen)  # keeps the signature generate() validates against
        def gen(input_ids, **kw):
            out = orig_gen(input_ids, **kw)
            if rec.pending is not None:
                rec.pending["output_ids"] = tolist(out[0, input_ids.shape[1]:])
                out513 = m513.generate(input_ids, **kw)
                rec.pending["vocab513_same"] = bool(out513.shape == out.shape
                                                    and torch.equal(out513, out))
            return out

        @functools.wraps(orig_fwd)
        def fwd(*a, **kw):
            if kw.get("reduction") is None:
                return orig_fwd(*a, **kw)
            snap = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
            out = orig_fwd(*a, **kw)
            with torch.inference_mode():
                out513 = m513.forward(**snap)
            rec.forward = {
                "input_ids": tolist(snap["input_ids"]), "labels": tolist(snap["labels"]),
                "attention_mask": tolist(snap["attention_mask"].long()),
                "images_shape": list(snap["images"].shape),
                "loss": [float(x) for x in out["loss"].float()],
                "loss513": [float(x) for x in out513["loss"].float()],
                "vocab": int(model.config.vocab_size),
            }
            return out
        model.generate = gen
        model.forward = fwd
        cache["tuple"] = (tok, model, proc, ctx)
        cache["len_tokenizer"] = len(tok)
        return cache["tuple"]
    loader.cache = cache
    return loader


def run_case(mod, rec, llava_dir, samples, tmp, pipeline, cid, image, text,
             expect_raises=None):
    import numpy as np
    from PIL import Image
    qfile = os.path.join(tmp, f"{cid}.jsonl")
    afile = os.path.join(tmp, "answers", f"{cid}.jsonl")
    line = {"question_id": cid, "image": image}
    line["text" if pipeline == "textvqa" else "question"] = text
    with open(qfile, "w") as f:
        f.write(json.dumps(line) + "\n")
    args = argparse.Namespace(
        model_path=llava_dir, model_base=None, image_folder=samples, question_file=qfile,
        answers_file=afile, conv_mode="vicuna_v1", num_chunks=1, chunk_idx=0,
        temperature=0.0, top_p=None, num_beams=1, use_slurm=False)  # scripts/eval/eval_*.sh
    mod.args = args  # their generate() reads the module-global args
    rec.reset()
    import torch
    raised = None
    with cpu_fp32_tensor_methods(torch):
        try:
            mod.eval_model(args)
        except Exception as e:  # noqa: BLE001 -- only a declared reference crash passes
            if expect_raises is None or type(e).__name__ != expect_raises:
                raise
            raised = f"{type(e).__name__}: {e}"
    if expect_raises is not None and raised is None:
        raise AssertionError(f"{cid}: expected their code to raise {expect_raises}")
    if raised is None:
        answers = [json.loads(x) for x in open(afile)]
        assert len(answers) == 1, answers
        final = answers[0]["text"]

    img = Image.open(os.path.join(samples, image))
    names = ["macro", "box", "micro"]
    assert len(rec.passes) in (2, 3), len(rec.passes)
    passes = {}
    for n, p in zip(names, rec.passes):
        assert "input_ids" in p and "output_ids" in p, p.keys()
        passes[n] = {"prompt": p["prompt"], "input_ids": p["input_ids"],
                     "output_ids": p["output_ids"], "output": p["output"],
                     "vocab513_same": p["vocab513_same"]}
    box_text = rec.passes[1]["output"]
    parsed = "crop_rect" in rec.box and len(rec.passes) == 3
    box = {"text": box_text,
           "found": rec.box.get("found"),
           "denorm": rec.box.get("denorm", [None])[0] if rec.box.get("denorm") else None,
           "expanded": rec.box["expanded"][0] if rec.box.get("expanded") else None,
           "enlarged": rec.box["enlarged"][0] if rec.box.get("enlarged") else None,
           "crop_rect": rec.box.get("crop_rect") if parsed else None,
           "crop_size": rec.images[-1]["size"] if parsed else None}
    if parsed:
        x1, y1, x2, y2 = box["crop_rect"]
        assert box["crop_size"] == [x2 - x1, y2 - y1], (box["crop_size"], box["crop_rect"])

    rec_case = {"id": cid, "pipeline": pipeline, "image": image, "image_size": list(img.size),
                "line": line, "question": text.split("\n")[0], "passes": passes, "box": box,
                "log": rec.prints}
    all_options = ["A", "B", "C", "D"]
    if pipeline == "textvqa":
        base = passes["macro"]["output"]
        cot = passes["micro"]["output"].strip("\n").strip(".") if parsed else None
        rec_case["base_answer"], rec_case["cot_answer"] = base, cot
    else:
        pos = rec.process_outputs
        base = pos[0]["out"]
        cot = pos[1]["out"] if parsed else None
        rec_case["process_outputs"] = pos
        rec_case["base_answer"], rec_case["cot_answer"] = base, cot
        rec_case["base_valid"] = base.upper() in all_options
        rec_case["cot_valid"] = (cot.upper() in all_options) if parsed else None

    scoring = None
    if rec.forward is not None:
        assert len(rec.preprocessed) == 2
        fw = rec.forward
        cands = []
        for i, pp in enumerate(rec.preprocessed):
            n = len(pp["input_ids"])
            assert fw["input_ids"][i][:n] == pp["input_ids"], "collator changed ids"
            assert fw["labels"][i][:n] == pp["labels"]
            cands.append({"text": pp["sources"][0][1]["value"],
                          "conversation": pp["conversation"],
                          "input_ids": pp["input_ids"], "labels": pp["labels"],
                          "all_masked": all(x == -100 for x in pp["labels"]),
                          "nll": fw["loss"][i], "nll_vocab513": fw["loss513"][i]})
        scoring = {"human": rec.preprocessed[0]["sources"][0][0]["value"],
                   "candidates": cands, "images_shape": fw["images_shape"],
                   "padded_len": len(fw["input_ids"][0]),
                   "argmin": int(np.argmin(fw["loss"])),
                   "argmin_vocab513": int(np.argmin(fw["loss513"])),
                   "vocab": fw["vocab"]}
    rec_case["scoring"] = scoring

    # The decision, from the scripts' rules, checked against what eval_model wrote.
    if raised is not None:
        rec_case["decision"] = {"rule": "reference raises", "chosen": None,
                                "final_text": None, "error": raised}
        return rec_case
    if pipeline == "textvqa":
        assert scoring is not None
        chosen = ["base", "cot"][scoring["argmin"]]
        expect = [base, cot][scoring["argmin"]]
        rule = "perplexity"
    else:
        if not parsed:
            chosen, rule = "base", "no box"
        elif rec_case["base_valid"] and rec_case["cot_valid"]:
            assert scoring is not None
            chosen, rule = ["base", "cot"][scoring["argmin"]], "perplexity"
        elif rec_case["cot_valid"] and not rec_case["base_valid"]:
            chosen, rule = "cot", "only cot valid"
        elif rec_case["base_valid"]:
            chosen, rule = "base", "only base valid"
        else:
            chosen, rule = "base", "neither valid"
        assert (scoring is not None) == (rule == "perplexity")
        expect = base if chosen == "base" else cot
        if expect.upper() in all_options:
            opts = text.split("\n")[1:]
            expect = opts[ord(expect) - ord("A")][3:]
    assert final == expect, (final, expect)
    rec_case["decision"] = {"rule": rule, "chosen": chosen, "final_text": final}
    return rec_case


# --------------------------------------------------------------------------- model-free parts

def crop_rect_cases(misc, processor, process_images, cfg):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(20250917)
    boxes, kinds = [], []

    def add(kind, b):
        kinds.append(kind)
        boxes.append([float(x) for x in b])

    def r2(x):
        return float(np.round(x, 2))
    for _ in range(450):  # ordinary boxes, 2 decimals as the model prints them
        x = np.sort(rng.uniform(0, 1, 2))
        y = np.sort(rng.uniform(0, 1, 2))
        add("normal", [r2(x[0]), r2(y[0]), r2(x[1]), r2(y[1])])
    for _ in range(100):  # full-precision floats, any order
        add("float", rng.uniform(0, 1, 4))
    for _ in range(100):  # some coordinates above 1 (normalised overflow)
        v = rng.uniform(0, 1.6, 4)
        add("over1", [r2(v[0]), r2(v[1]), r2(max(v[0], v[2])), r2(max(v[1], v[3]))])
    for _ in range(50):  # pixel coordinates instead of normalised ones
        v = np.sort(rng.integers(0, 700, 4)).astype(float)
        add("pixels", [v[0], v[1], v[2] + 1, v[3] + 1])
    tiny_vals = [0.0, 0.0005, 0.001, 0.0015, 0.002, 1 / 480, 1 / 640, 1 / 427, 0.0021, 0.0024]
    for _ in range(100):  # tiny boxes near the 1-px rule (expand_box's assert)
        add("tiny", rng.choice(tiny_vals, 4))
    for _ in range(100):  # inverted (x1 > x2 and/or y1 > y2)
        v = rng.uniform(0, 1, 4)
        mode = rng.integers(0, 3)
        x1, x2 = (max(v[0], v[2]), min(v[0], v[2])) if mode != 1 else (min(v[0], v[2]), max(v[0], v[2]))
        y1, y2 = (max(v[1], v[3]), min(v[1], v[3])) if mode != 0 else (min(v[1], v[3]), max(v[1], v[3]))
        add("inverted", [r2(x1), r2(y1), r2(x2), r2(y2)])
    fixed = [[0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5], [0, 0, 0.01, 0.01],
             [0.99, 0.99, 1, 1], [0.25, 0.1, 0.75, 0.2], [0.1, 0.25, 0.2, 0.75], [0, 0.5, 1, 0.5],
             [0.5, 0, 0.5, 1], [1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0.3, 0.3, 0.1, 0.1],
             [2, 2, 3, 3], [1.5, 0, 2, 1], [0, 0, 100, 100], [0.001, 0.001, 0.5, 0.5],
             [0.002, 0.002, 0.002, 0.002], [1 / 480, 1 / 640, 1 / 480, 1 / 640],
             [1 / 640, 1 / 427, 1 / 640, 1 / 427], [0.05, 0.05, 0.06, 0.06],
             [0.0, 0.0, 0.0, 0.5], [0.04, 0.04, 0.96, 0.96], [0.5, 0.5, 0.51, 0.99]]
    for b in fixed:
        add("fixed", b)
    while len(boxes) < 1000:
        v = rng.uniform(-0.05, 1.05, 4)
        add("mixed", [r2(x) for x in v])
    assert len(boxes) == 1000

    sizes = [(480, 640), (640, 427)]  # (width, height)
    results = {}
    for (w, h) in sizes:
        img_np = np.zeros((h, w, 3), dtype=np.uint8)
        rows = []
        for b in boxes:
            # the try-block of model_vqa_textvqa.py :124-137 (gqa :131-144), line by line
            try:
                bx = np.array([b], dtype=np.float64).reshape(-1, 4)  # find_boxes' output type
                sub_area = misc.denorm_bbox(bx, h, w)[0]
                sub_area = misc.expand_box(sub_area, h, w)[0]
                sub_area = misc.enlarge_box(sub_area, h, w)[0]
                sub_area = sub_area.astype(np.int32)
                x1, y1, x2, y2 = sub_area
                sub_img_np = img_np[y1:y2, x1:x2]
                sub_img_pil = Image.fromarray(sub_img_np).convert("RGB")
                row = {"rect": [int(x1), int(y1), int(x2), int(y2)],
                       "crop": list(sub_img_pil.size)}
                if sub_img_pil.size[0] == 0 or sub_img_pil.size[1] == 0:
                    # process_images (textvqa :142, outside the try) on the empty crop
                    try:
                        process_images([sub_img_pil], processor, cfg)
                        row["process_images"] = "ok"
                    except Exception as e:  # noqa: BLE001 -- recorded, it is the reference
                        row["process_images"] = f"{type(e).__name__}: {e}"[:160]
            except Exception as e:  # noqa: BLE001 -- "no box" is the reference's outcome
                row = {"rect": None, "error": f"{type(e).__name__}: {e}"[:160]}
            rows.append(row)
        results[f"{w}x{h}"] = rows
    out = {
        "about": "their box block (eval/model_vqa_textvqa.py:124-137): denorm_bbox, expand_box, "
                 "enlarge_box, astype(int32), crop img[y1:y2, x1:x2]; rect null = the block "
                 "raised (no box, macro answer used). crop = [w, h] of the crop; an empty crop "
                 "does not raise there, process_images (outside the try) then does.",
        "sizes": [list(s) for s in sizes],
        "kinds": kinds,
        "boxes": boxes,
    }
    for k, rows in results.items():
        out["results_" + k] = rows
    return out


FIND_BOX_STRINGS = [
    "[0.12, 0.34, 0.56, 0.78]",
    "0.12, 0.34, 0.56, 0.78",
    "[0.1,0.2, 0.3,0.4]",
    "[-0.10, 0.20, 0.30, 0.40]",
    "[0.10, -0.20, 0.30, 0.40]",
    "[-1.5, -2, 3, 4]",
    "1.2.3, 4, 5, 6",
    "1.2.3.4, 5, 6, 7",
    "12, 34, 56",
    "12, 34, 56, 78",
    "box: [0.1, 0.2, 0.3, 0.4] and [0.5, 0.6, 0.7, 0.8]",
    "[0.1, 0.2, 0.3, 0.4]\n[0.5, 0.6, 0.7, 0.8]",
    "[0.1,\n0.2,\n0.3,\n0.4]",
    "[0.1,\t0.2,\t0.3,\t0.4]",
    "[0.1,\r\n0.2,\r\n0.3,\r\n0.4]",
    "[0.1,  \n\t 0.2, 0.3, 0.4]",
    "[0.1,\u00a00.2,\u00a00.3,\u00a00.4]",
    "[0.1,\u30000.2, 0.3, 0.4]",
    "[1e-2, 0.2, 0.3, 0.4]",
    "[0.1, 0.2, 0.3, 4e-1]",
    "[1.5e2, 2, 3, 4]",
    "",
    "no box here",
    "[0.1 , 0.2 , 0.3 , 0.4]",
    "[0.1;0.2;0.3;0.4]",
    "[.5, .6, .7, .8]",
    "[1., 2., 3., 4.]",
    "[0.10, 0.20, 0.30, 0.40, 0.50]",
    "1,2,3,4",
    "[100, 200, 300, 400]",
    "[0.1, 0.2, 0.3]; [0.4, 0.5, 0.6, 0.7]",
    "(0.25, 0.50, 0.75, 1.00)",
    "[0.25,0.50,0.75,1.00]</s>",
    "x1=0.1, y1=0.2, x2=0.3, y2=0.4",
    "[0.1, 0.2, 0.3, 0.4",
    "The answer is 3, 4, 5, 6 apples",
    "[0.123456789, 0.2, 0.3, 0.4]",
    "[00.10, 0.20, 0.30, 0.40]",
    "[0.1, 0.2, 0.3, 0.4.5]",
    "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]",
    "[1, 2, 3, 4, 5, 6, 7]",
    "[0.50, 0.50, 0.50, 0.50]",
    "[1,2, 3 ,4]",
    "[\uff10.\uff11, 0.2, 0.3, 0.4]",
    "[0.1, 0.2, 0.3, 0.4] [0.5, 0.6",
]


def find_boxes_cases(misc):
    rows = []
    for s in FIND_BOX_STRINGS:
        r = misc.find_boxes(s)
        boxes = tolist(r)
        rows.append({"text": s, "first": boxes[0] if boxes else None, "boxes": boxes})
    return {"about": "misc/boxes.py:53-61 find_boxes; the eval scripts use boxes[0] "
                     "(first) and fall back to the macro answer when there is none",
            "cases": rows}


def process_outputs_cases(misc):
    gqa_shapes = ["A. circle", "B. star", "C. triangle"]
    gqa_mixed = ["A. Cat", "B. Dog", "C. apple pie", "D. Banana"]
    raw_mixed = ["Cat", "Dog", "apple pie", "Banana"]  # MMBench passes option texts
    raw_colors = ["red", "green", "blue", "yellow"]
    cases = [
        ("A", gqa_shapes), ("b", gqa_shapes), ("C.", gqa_shapes), ("D", gqa_shapes),
        ("E", gqa_shapes), ("A.", gqa_shapes), ("(A)", gqa_shapes), ("B. star", gqa_shapes),
        ("circle", gqa_shapes), ("star", gqa_shapes), ("triangle", gqa_shapes),
        ("tri", gqa_shapes), ("a big triangle", gqa_shapes), ("square", gqa_shapes),
        ("Star", gqa_shapes), ("", gqa_shapes), ("s", gqa_shapes), ("  star", gqa_shapes),
        ("Dog", gqa_mixed), ("dog", gqa_mixed), ("apple", gqa_mixed), ("Apple", gqa_mixed),
        ("Cat", gqa_mixed), ("pie", gqa_mixed), ("Banana", gqa_mixed), ("egg", gqa_mixed),
        ("The answer is B", gqa_mixed), ("apple pie with cream", raw_mixed),
        ("dog", raw_mixed), ("pie", raw_mixed), ("green", raw_colors), ("Green", raw_colors),
        ("reddish", raw_colors), ("yellow.", raw_colors), ("blue", raw_colors),
        ("purple", raw_colors), ("e", raw_colors),
    ]
    rows = []
    for out, opts in cases:
        r = misc.process_outputs(out, opts)
        rows.append({"output": out, "options": opts, "result": r,
                     "valid": r.upper() in ["A", "B", "C", "D"]})
    return {"about": "misc/eval.py:1-18 process_outputs(outputs, options); valid = "
                     "result.upper() in ['A','B','C','D'] (eval/model_vqa_gqa.py:20,116). GQA "
                     "and SEED pass options with their 'A. ' prefix, MMBench the bare texts.",
            "cases": rows}


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dualfocus", default=os.environ.get("DUALFOCUS_SRC"),
                    help="folder holding the dualfocus package (projects/DualFocus)")
    ap.add_argument("--dualfocus-commit", default=os.environ.get("DUALFOCUS_COMMIT", ""))
    ap.add_argument("--model", default="resources/models/shapes-tiny")
    ap.add_argument("--samples", default="resources/samples")
    ap.add_argument("--out", default="tests/reference/dualfocus")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if not a.dualfocus or not os.path.isdir(os.path.join(a.dualfocus, "dualfocus")):
        sys.exit("error: --dualfocus (or DUALFOCUS_SRC) must name the folder holding dualfocus/")
    src = os.path.abspath(a.dualfocus)
    model_dir, samples, out_dir = (os.path.abspath(p) for p in (a.model, a.samples, a.out))

    sys.path.insert(0, src)
    import numpy as np
    import torch
    import transformers
    from safetensors.torch import save_file
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    import dualfocus.eval.model_vqa_textvqa as tv
    import dualfocus.eval.model_vqa_gqa as gq
    import dualfocus.misc as misc
    import dualfocus.train.train as train_mod
    import dualfocus.model.builder as builder
    from dualfocus.model import LlavaLlamaForCausalLM
    from dualfocus.mm_utils import process_images
    for m in (tv, gq):
        assert m.__file__.startswith(src), m.__file__

    os.makedirs(os.path.dirname(out_dir) or ".", exist_ok=True)
    stage = tempfile.mkdtemp(prefix=".dualfocus-stage-", dir=os.path.dirname(out_dir) or ".")
    work = tempfile.mkdtemp(prefix="dualfocus-ref-")
    ok = False
    try:
        llava_dir, clip_dir = convert_checkpoint(model_dir, os.path.join(work, "ckpt"))
        rec = Recorder()
        loader = make_loader(builder, LlavaLlamaForCausalLM, rec)
        install_hooks(tv, train_mod, rec, loader)
        install_hooks(gq, train_mod, rec, loader)

        cases = []
        pixels = None
        for pipeline, mod, lst in (("textvqa", tv, TEXTVQA_CASES), ("gqa", gq, GQA_CASES)):
            for cid, image, text, expect_raises in lst:
                c = run_case(mod, rec, llava_dir, samples, work, pipeline, cid, image, text,
                             expect_raises)
                cases.append(c)
                print(f"{cid}: box {c['box']['text']!r} rect {c['box']['crop_rect']} "
                      f"decision {c['decision']}", file=sys.stderr)
                if pixels is None and c["box"]["crop_rect"] is not None:
                    full = rec.images[1]["tensor"].float().contiguous()
                    crop = rec.images[2]["tensor"].float().contiguous()
                    assert torch.equal(rec.images[0]["tensor"], rec.images[1]["tensor"])
                    pixels = ({"full": full, "crop": crop},
                              {"case": cid, "image": image,
                               "crop_rect": c["box"]["crop_rect"],
                               "crop_size": c["box"]["crop_size"],
                               "torch": torch.__version__,
                               "transformers": transformers.__version__})
        assert pixels is not None, "no case produced a crop"
        # one metadata key: safetensors writes a map's keys in hash order (not reproducible)
        save_file(pixels[0], os.path.join(stage, "pixel_values.safetensors"),
                  metadata={"info": json.dumps(pixels[1], sort_keys=True)})

        tok, model, proc, _ = loader.cache["tuple"]
        probes = []
        for s in ["</s>", "a</s>USER: b", " ASSISTANT:", "  ASSISTANT:", "ASSISTANT: A</s>",
                  "<image>\nWhat shape is the red object?",
                  "[0.12, 0.50, 1.00, 0.30]", "\n", "A. circle"]:
            probes.append({"text": s, "ids": tv.tokenizer_image_token(s, tok),
                           "pieces": tok.convert_ids_to_tokens(
                               [i for i in tv.tokenizer_image_token(s, tok) if i >= 0])})
        files = {f: sha256(os.path.join(src, "dualfocus", f)) for f in (
            "eval/model_vqa_textvqa.py", "eval/model_vqa_gqa.py", "misc/boxes.py",
            "misc/eval.py", "mm_utils.py", "train/train.py", "conversation.py",
            "model/builder.py", "model/llava_arch.py", "model/language_model/llava_llama.py",
            "model/multimodal_encoder/clip_encoder.py")}
        meta = {"dualfocus_commit": a.dualfocus_commit, "dualfocus_sha256": files,
                "torch": torch.__version__, "transformers": transformers.__version__,
                "model": os.path.relpath(model_dir), "dtype": "float32", "device": "cpu",
                "len_tokenizer": loader.cache["len_tokenizer"],
                "model_vocab_after_builder": int(model.config.vocab_size),
                "image_processor": {"size": proc.size, "crop_size": proc.crop_size,
                                    "mean": proc.image_mean, "std": proc.image_std,
                                    "resample": int(proc.resample)},
                "pad_fill": [int(x * 255) for x in proc.image_mean]}
        dump_compact(os.path.join(stage, "model_cases.json"),
                     {"about": "DualFocus eval_model (textvqa / gqa) run unchanged on CPU fp32; "
                               "see tools/reference/dualfocus_reference.py",
                      "meta": meta, "tokenizer_probes": probes, "cases": cases})

        dump_compact(os.path.join(stage, "crop_rects.json"),
                     crop_rect_cases(misc, proc, process_images, model.config))
        dump_compact(os.path.join(stage, "find_boxes.json"), find_boxes_cases(misc))
        dump_compact(os.path.join(stage, "process_outputs.json"), process_outputs_cases(misc))

        produced = sorted(os.listdir(stage))
        assert produced == sorted(FIXTURES), produced
        total = sum(os.path.getsize(os.path.join(stage, f)) for f in produced)
        assert total < 1_000_000, f"fixtures too large: {total} bytes"
        os.makedirs(out_dir, exist_ok=True)
        for f in produced:
            os.chmod(os.path.join(stage, f), 0o644)
            os.replace(os.path.join(stage, f), os.path.join(out_dir, f))
        ok = True
        for f in produced:
            print(f"{f}: {os.path.getsize(os.path.join(out_dir, f))} bytes", file=sys.stderr)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        if not ok:
            print("dualfocus_reference: FAILED, no fixtures written", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(1)
