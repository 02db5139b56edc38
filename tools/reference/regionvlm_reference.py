#!/usr/bin/env python3
"""Reference fixtures for RegionChat's RegionVLM family (jbeomlee93/RegionVLM, NAACL 2024, a LAVIS
fork: EVA-ViT-g + Q-Former that reads a point string + FlanT5).

It builds a tiny random RegionVLM in the release layouts, runs the ORIGINAL model code on it
(RegionVLM's own lavis/models/eva_vit.py and lavis/models/blip2_models/Qformer.py, imported at
run time from a fetched copy; transformers' BertTokenizer, T5TokenizerFast,
T5ForConditionalGeneration and Blip2ForConditionalGeneration), CPU, fp32, and records what that
code computes. Nothing of RegionVLM is copied into this repository.

How to run (from the repository root; the venv is the one tools/reference/make-venv-pargo.sh
makes: transformers 4.33.2 and torch 2.0.1 satisfy RegionVLM's requirements.txt,
"transformers>=4.28.0"):

    mkdir -p /tmp/regionvlm-src
    git --git-dir <RegionVLM git dir> archive HEAD lavis/models/eva_vit.py \
        lavis/models/blip2_models/Qformer.py | tar -x -C /tmp/regionvlm-src
    /work/venv-pargo/bin/python tools/reference/regionvlm_reference.py \
        --regionvlm-src /tmp/regionvlm-src --regionvlm-commit 913b801...

Options: --out (default tests/reference/regionvlm), --image (default
resources/samples/scene_1000000000.png), --seed (default 7). Everything is written into a
staging folder and moved to --out only when all of it succeeded.

What it builds (one torch.Generator seeded with --seed, fixed draw order):
 - spiece.model: a SentencePiece unigram model trained here with T5's ids (pad 0, eos 1,
   unk 2, no bos), 320 pieces, on the prompt words below.
 - bert-base-uncased/vocab.txt: the 370-line WordPiece vocabulary of tests/reference/wordpiece
   (specials, punctuation, the numbers 0..99, some words and ## pieces); [DEC] is added on top
   as LAVIS' init_tokenizer does, so the Q-Former's word embeddings have 371 rows.
 - The network, shrunk, every structural choice as released: EVA-ViT (RegionVLM's
   VisionTransformer class with create_eva_vit_g's settings but width 64, depth 2, 4 heads,
   mlp_ratio 4.3637 -> 279) at 364 px from a pos_embed stored at 16x16 and interpolated to
   26x26 by the file's own interpolate_pos_embed; ln_vision LayerNorm(64) (eps 1e-5); the
   Q-Former (the file's BertLMHeadModel, hidden 64, 2 layers, 4 heads, intermediate 128,
   cross-attention every 2nd layer, encoder_width 64, query_length 32, resized to 371 rows,
   cls None); query_tokens [1,32,64]; t5_proj Linear(64,64); a T5 (d_model 64, d_kv 16,
   4 heads, d_ff 128, 2+2 layers, gated GELU with dense_act_fn "gelu" as blip2_t5.py sets
   it, 32 buckets, max distance 128, untied lm_head).
 - model/ (the LAVIS stack RegionChat loads): config.json (RegionChat's description of the
   stack with LAVIS' yaml keys), eva_vit_g.pth (fp16 values, 3 blocks: the third is ignored
   as the real file's 40th block is), blip2_pretrained_flant5xl.pth ({"model": ...}, the
   query side only, values that RegionVLM's file then overrides), ckpoint_RegionVLM.pth
   ({"model": ...}: ln_vision, query_tokens, the whole Q-Former with its text parts,
   t5_proj), flan-t5-xl/ (config.json, model.safetensors, spiece.model,
   tokenizer_config.json), bert-base-uncased/ (vocab.txt, config.json).
 - hf/: the same network saved by Blip2ForConditionalGeneration.save_pretrained (safetensors),
   which has no slot for the Q-Former's text parts, plus spiece.model.

Records (reference.safetensors / reference.json):
 - pixels [3,364,364] (PIL bicubic resize + CLIP normalisation, as Blip2ImageTrainProcessor),
   vision [677,64] (ln_vision output), the BERT ids of the point strings (truncated at 32 as
   blip2_t5.py does), queries_text [32,64] (Qformer.bert with the point string, first 32
   rows), queries_free [32,64] (no text, as predict_answers), inputs_t5 of both.
 - Case "caption": the region's 32 rows + "</s>" (blip2_t5.generate's empty prompt); T5 logits
   for decoder input [0] + greedy ids; greedy ids; beam 5 (length_penalty 1, 20 new tokens).
 - Case "vqa": text-free queries + "Question: what is in the picture? Short answer:" + "</s>";
   beam 5, max 10, length_penalty -1 (lavis/tasks/vqa.py); logits for [0] + beam ids.
 - Case "vcr": "Let" + "[1] be" + region 1's rows + "[2] be" + region 2's rows + the question
   with its options + "</s>", each piece tokenised on its own with its </s> cut, as
   predict_answers_describe_first does; beam 5, 20 new tokens, length_penalty 1.
 - Case "hf": Blip2ForConditionalGeneration (hf/) on the vqa prompt: its logits (its
   post_layernorm eps is 1e-6, the config's) and its beam output.
"""
import argparse
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import types

IMAGE_SIZE = 364
VIT_W, VIT_DEPTH, VIT_HEADS, VIT_MLP_RATIO = 64, 2, 4, 4.3637
QF_H, QF_LAYERS, QF_HEADS, QF_INTER = 64, 2, 4, 128
NUM_QUERY = 32
T5_D, T5_KV, T5_HEADS, T5_FF, T5_LAYERS = 64, 16, 4, 128, 2
SP_VOCAB = 320  # an upper bound: the trainer stops at what the text supports
MAX_TXT_LEN = 32

REGION_1 = (150, 60, 420, 300)  # x0, y0, x1, y1 in pixels of the sample image (a box region)
REGION_2 = [(40, 330), (200, 350), (380, 420)]  # a scribble's resampled points


def fail(msg):
    print("regionvlm_reference: " + msg, file=sys.stderr)
    sys.exit(1)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def training_lines():
    words = ("question answer short what is in the picture let be a an the of on with and "
             "which color colour person man woman dog cat car tree sky road left right top "
             "bottom region this that there are how many why because 1. 2. 3. 4. "
             "[1] [2] [3] [0] yes no red green blue white black small large near far "
             "holding sitting standing walking looking at behind front table chair").split()
    lines = []
    for i in range(400):
        n = 3 + (i * 7) % 9
        lines.append(" ".join(words[(i * 13 + k * 5) % len(words)] for k in range(n)))
    lines += ["Question: what is in the picture? Short answer:",
              "Let [1] be Question: why is [1] looking at [2]? 1. because 2. no 3. yes 4. left Answer:"]
    return lines


def train_spiece(spm, out_path):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines()), model_writer=model, vocab_size=SP_VOCAB,
        model_type="unigram", character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>", num_threads=1, minloglevel=2,
        hard_vocab_limit=False)
    with open(out_path, "wb") as f:
        f.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=out_path)
    if (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id()) != (0, 1, 2, -1):
        fail("spiece ids are not pad 0, eos 1, unk 2, no bos")
    return sp.get_piece_size()


def fill_random(torch, name, p, gen):
    shape = tuple(p.shape)
    leaf = name.rsplit(".", 1)[-1]
    if name.endswith("cls_token") or name.endswith("query_tokens") or "word_embeddings" in name \
            or name.endswith("shared.weight") or "embed_tokens" in name:
        v = torch.randn(shape, generator=gen)
    elif name.endswith("pos_embed") or "position_embeddings" in name \
            or "relative_attention_bias" in name:
        v = torch.randn(shape, generator=gen) * 0.5
    elif len(shape) == 1:
        if leaf in ("bias", "q_bias", "v_bias"):
            v = torch.randn(shape, generator=gen) * 0.1
        else:
            v = torch.rand(shape, generator=gen) + 0.5
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        v = torch.randn(shape, generator=gen) / fan_in ** 0.5
    with torch.no_grad():
        p.copy_(v.to(p.dtype))


def import_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def point_string(points):
    # eval_RIS.py: str(list of [x, y] int pairs)[1:-1].replace(',', '')
    return str([[int(x), int(y)] for x, y in points])[1:-1].replace(",", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--regionvlm-src", required=True)
    ap.add_argument("--regionvlm-commit", required=True)
    ap.add_argument("--out", default="tests/reference/regionvlm")
    ap.add_argument("--image", default="resources/samples/scene_1000000000.png")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    import numpy as np
    import sentencepiece as spm
    import torch
    import transformers
    from PIL import Image
    from safetensors.torch import save_file
    from torchvision import transforms
    from transformers import (BertConfig, BertTokenizer, Blip2Config,
                              Blip2ForConditionalGeneration, T5Config,
                              T5ForConditionalGeneration, T5TokenizerFast)

    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    src = os.path.abspath(args.regionvlm_src)
    # eva_vit.py imports lavis.common.dist_utils.download_cached_file (never called here).
    for name in ("lavis", "lavis.common"):
        sys.modules.setdefault(name, types.ModuleType(name))
    du = types.ModuleType("lavis.common.dist_utils")
    du.download_cached_file = lambda *a, **k: fail("download_cached_file called")
    sys.modules["lavis.common.dist_utils"] = du
    eva = import_file("rvlm_eva_vit", os.path.join(src, "lavis/models/eva_vit.py"))
    qf = import_file("rvlm_qformer", os.path.join(src, "lavis/models/blip2_models/Qformer.py"))

    repo = os.getcwd()
    staging_root = tempfile.mkdtemp(prefix="regionvlm-ref-")
    staging = os.path.join(staging_root, "out")
    mdir = os.path.join(staging, "model")
    t5dir = os.path.join(mdir, "flan-t5-xl")
    bertdir = os.path.join(mdir, "bert-base-uncased")
    hfdir = os.path.join(staging, "hf")
    for d in (mdir, t5dir, bertdir, hfdir):
        os.makedirs(d)
    gen = torch.Generator().manual_seed(args.seed)

    # ---- tokenizers
    vocab_src = os.path.join(repo, "tests/reference/wordpiece/vocab.txt")
    shutil.copy(vocab_src, os.path.join(bertdir, "vocab.txt"))
    bert_tok = BertTokenizer(os.path.join(bertdir, "vocab.txt"), do_lower_case=True,
                             truncation_side="right")
    bert_tok.add_special_tokens({"bos_token": "[DEC]"})
    sp_size = train_spiece(spm, os.path.join(t5dir, "spiece.model"))
    with open(os.path.join(t5dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "T5Tokenizer", "extra_ids": 0, "model_max_length": 512,
                   "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}, f, indent=2)
    t5_tok = T5TokenizerFast.from_pretrained(t5dir)
    if t5_tok.eos_token_id != 1 or t5_tok.pad_token_id != 0:
        fail("T5 tokenizer ids")

    # ---- the network, the original classes
    vit = eva.VisionTransformer(
        img_size=IMAGE_SIZE, patch_size=14, use_mean_pooling=False, embed_dim=VIT_W,
        depth=VIT_DEPTH, num_heads=VIT_HEADS, mlp_ratio=VIT_MLP_RATIO, qkv_bias=True,
        drop_path_rate=0, norm_layer=lambda d: torch.nn.LayerNorm(d, eps=1e-6))
    vit_mlp = int(VIT_W * VIT_MLP_RATIO)
    # eva_vit_g.pth: the ViT at its 224 px pretraining (16x16 grid) + one extra block.
    vit224 = eva.VisionTransformer(
        img_size=224, patch_size=14, use_mean_pooling=False, embed_dim=VIT_W,
        depth=VIT_DEPTH + 1, num_heads=VIT_HEADS, mlp_ratio=VIT_MLP_RATIO, qkv_bias=True,
        drop_path_rate=0, norm_layer=lambda d: torch.nn.LayerNorm(d, eps=1e-6))
    for n, p in vit224.named_parameters():
        fill_random(torch, n, p, gen)
    vit_sd = {k: v.detach().clone().half() for k, v in vit224.state_dict().items()}
    torch.save(vit_sd, os.path.join(mdir, "eva_vit_g.pth"))
    # create_eva_vit_g's load path, as written.
    loaded = torch.load(os.path.join(mdir, "eva_vit_g.pth"), map_location="cpu")
    eva.interpolate_pos_embed(vit, loaded)
    inc = vit.load_state_dict(loaded, strict=False)
    if inc.missing_keys:
        fail("ViT missing keys %s" % inc.missing_keys)
    vit = vit.float().eval()

    qcfg = BertConfig(vocab_size=len(bert_tok) - 1, hidden_size=QF_H,
                      num_hidden_layers=QF_LAYERS, num_attention_heads=QF_HEADS,
                      intermediate_size=QF_INTER, max_position_embeddings=64,
                      hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    qcfg.encoder_width = VIT_W
    qcfg.add_cross_attention = True
    qcfg.cross_attention_freq = 2
    qcfg.query_length = NUM_QUERY
    Qformer = qf.BertLMHeadModel(qcfg)
    Qformer.resize_token_embeddings(len(bert_tok))
    Qformer.cls = None
    ln_vision = torch.nn.LayerNorm(VIT_W)
    query_tokens = torch.nn.Parameter(torch.zeros(1, NUM_QUERY, QF_H))
    t5_proj = torch.nn.Linear(QF_H, T5_D)

    t5cfg = T5Config(vocab_size=sp_size, d_model=T5_D, d_kv=T5_KV, num_heads=T5_HEADS,
                     d_ff=T5_FF, num_layers=T5_LAYERS, num_decoder_layers=T5_LAYERS,
                     feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                     relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
                     tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0,
                     eos_token_id=1, dropout_rate=0.0)
    t5cfg.dense_act_fn = "gelu"  # blip2_t5.py L105
    t5 = T5ForConditionalGeneration(t5cfg)

    class Stack(torch.nn.Module):  # the parameter names of Blip2T5
        pass

    stack = Stack()
    stack.Qformer = Qformer
    stack.ln_vision = ln_vision
    stack.query_tokens = query_tokens
    stack.t5_proj = t5_proj
    stack.t5_model = t5
    # blip2_pretrained_flant5xl.pth: drawn first, then everything RegionVLM trains is redrawn.
    for n, p in stack.named_parameters():
        fill_random(torch, n, p, gen)
    blip2 = {k: v.detach().clone() for k, v in stack.state_dict().items()
             if not k.startswith("t5_model.") and ".word_embeddings." not in k
             and ".position_embeddings." not in k and ".intermediate." not in k
             and ".output." not in k.replace(".attention.output.", ".x.").replace(
                 ".crossattention.output.", ".x.")}
    torch.save({"model": blip2}, os.path.join(mdir, "blip2_pretrained_flant5xl.pth"))
    for n, p in stack.named_parameters():
        if not n.startswith("t5_model."):
            fill_random(torch, n, p, gen)
    # A random lm_head makes EOS as likely as anything: make it rare enough for 20 tokens.
    with torch.no_grad():
        t5.lm_head.weight[1] *= 0.25
    rvlm = {k: v.detach().clone() for k, v in stack.state_dict().items()
            if not k.startswith("t5_model.")}
    torch.save({"model": rvlm}, os.path.join(mdir, "ckpoint_RegionVLM.pth"))
    t5.save_pretrained(t5dir, safe_serialization=True)
    with open(os.path.join(t5dir, "config.json")) as f:
        t5json = json.load(f)
    with open(os.path.join(bertdir, "config.json"), "w") as f:
        json.dump(json.loads(qcfg.to_json_string()), f, indent=2)
    config = {
        "model_type": "regionvlm",
        "arch": "blip2_t5",
        "lavis_model_type": "pretrain_flant5xl",
        "image_size": IMAGE_SIZE,
        "num_query_token": NUM_QUERY,
        "max_txt_len": MAX_TXT_LEN,
        "vit_precision": "fp16",
        "vit_model": "eva_vit_g.pth",
        "pretrained": "blip2_pretrained_flant5xl.pth",
        "finetuned": "ckpoint_RegionVLM.pth",
        "t5_model": "flan-t5-xl",
        "bert_model": "bert-base-uncased",
        "regionchat": {"vision_width": VIT_W, "vision_depth": VIT_DEPTH,
                       "vision_heads": VIT_HEADS},
    }
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    # Reload the whole stack in LAVIS' order over fresh modules, so the outputs below come
    # from the files (a file that lost a tensor would show).
    stack.eval()
    for path in ("blip2_pretrained_flant5xl.pth", "ckpoint_RegionVLM.pth"):
        sd = torch.load(os.path.join(mdir, path), map_location="cpu")["model"]
        stack.load_state_dict(sd, strict=False)
    for k, v in rvlm.items():
        if not torch.equal(stack.state_dict()[k], v):
            fail("stack reload differs at " + k)
    stack.float()

    # ---- preprocessing (Blip2ImageTrainProcessor without its random crop/flip)
    img = Image.open(os.path.join(repo, args.image)).convert("RGB")
    W, H = img.size
    proc = transforms.Compose([
        transforms.Resize((IMAGE_SIZE, IMAGE_SIZE), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize((0.48145466, 0.4578275, 0.40821073),
                             (0.26862954, 0.26130258, 0.27577711))])
    pixels = proc(img).unsqueeze(0)
    image_embeds = ln_vision(vit(pixels)).float()
    image_atts = torch.ones(image_embeds.size()[:-1], dtype=torch.long)
    qt = query_tokens.expand(1, -1, -1)

    def qformer_text(text):
        tok = bert_tok([text], padding="longest", truncation=True, max_length=MAX_TXT_LEN,
                       return_tensors="pt")
        atts = torch.cat([torch.ones(qt.size()[:-1], dtype=torch.long), tok.attention_mask], 1)
        out = Qformer.bert(tok.input_ids, attention_mask=atts, query_embeds=qt,
                           encoder_hidden_states=image_embeds, encoder_attention_mask=image_atts,
                           return_dict=True)
        return out.last_hidden_state[:, :32], tok.input_ids[0].tolist()

    def qformer_free():
        out = Qformer.bert(query_embeds=qt, encoder_hidden_states=image_embeds,
                           encoder_attention_mask=image_atts, return_dict=True)
        return out.last_hidden_state

    # Region 1: 10 random pixels of the box (eval_RIS.py's sampling, numpy RandomState(0));
    # region 2: the scribble's points as given.
    rs = np.random.RandomState(0)
    mask = np.zeros((H, W), np.uint8)
    x0, y0, x1, y1 = REGION_1
    mask[y0:y1, x0:x1] = 1
    on = np.argwhere(mask == 1)
    rs.shuffle(on)
    on = np.take(on[:10], [1, 0], axis=1).astype(np.float32)
    on[:, 0] /= W
    on[:, 1] /= H
    pts1 = (on * 100).astype(np.int64)
    str1 = point_string(pts1.tolist())
    pts2 = [(x / W * 100, y / H * 100) for x, y in REGION_2]
    str2 = point_string(pts2)

    q1, bert_ids1 = qformer_text(str1)
    q2, bert_ids2 = qformer_text(str2)
    q_free = qformer_free()
    inputs1, inputs2, inputs_free = t5_proj(q1), t5_proj(q2), t5_proj(q_free)
    embed = t5.get_input_embeddings()

    def t5_ids(text, strip_eos=False):
        ids = t5_tok([text], return_tensors="pt").input_ids
        return ids[:, :-1] if strip_eos else ids

    def run(enc_embeds, beams, max_new, length_penalty):
        att = torch.ones(enc_embeds.shape[:2], dtype=torch.long)
        greedy = t5.generate(inputs_embeds=enc_embeds, attention_mask=att, do_sample=False,
                             num_beams=1, max_new_tokens=max_new, min_length=1)
        beam = t5.generate(inputs_embeds=enc_embeds, attention_mask=att, do_sample=False,
                           top_p=0.9, temperature=1, num_beams=beams, max_new_tokens=max_new,
                           min_length=1, repetition_penalty=1.0, length_penalty=length_penalty,
                           num_return_sequences=1)
        dec = greedy if greedy.shape[1] >= beam.shape[1] else beam
        logits = t5(inputs_embeds=enc_embeds, attention_mask=att, decoder_input_ids=dec).logits
        return greedy[0].tolist(), beam[0].tolist(), dec[0].tolist(), logits[0]

    cases, tensors = {}, {}
    # caption: region + "" -> "</s>"
    ids_c = t5_ids("")
    enc_c = torch.cat([inputs1, embed(ids_c)], 1)
    g, b, d, lg = run(enc_c, 5, 20, 1.0)
    cases["caption"] = {"t5_ids": ids_c[0].tolist(), "greedy": g, "beam": b, "logits_for": d,
                        "beams": 5, "max_new_tokens": 20, "length_penalty": 1.0,
                        "beam_text": t5_tok.decode(b, skip_special_tokens=True)}
    tensors["logits_caption"] = lg
    # vqa: text-free queries + "Question: {} Short answer:"
    question = "what is in the picture?"
    prompt_v = "Question: {} Short answer:".format(question)
    ids_v = t5_ids(prompt_v)
    enc_v = torch.cat([inputs_free, embed(ids_v)], 1)
    g, b, d, lg = run(enc_v, 5, 10, -1.0)
    cases["vqa"] = {"prompt": prompt_v, "t5_ids": ids_v[0].tolist(), "greedy": g, "beam": b,
                    "logits_for": d, "beams": 5, "max_new_tokens": 10, "length_penalty": -1.0,
                    "beam_text": t5_tok.decode(b, skip_special_tokens=True)}
    tensors["logits_vqa"] = lg
    # vcr: Let [1] be <r1> [2] be <r2> Question: ... Answer: </s>
    vcr_q = "Question: why is [1] looking at [2]? 1. because 2. no 3. yes 4. left Answer: "
    pieces = [("text", "Let"), ("text", "[1] be"), ("region", 1), ("text", "[2] be"),
              ("region", 2)]
    parts, piece_ids = [], []
    for kind, v in pieces:
        if kind == "text":
            ids = t5_ids(v, strip_eos=True)
            piece_ids.append(ids[0].tolist())
            parts.append(embed(ids))
        else:
            parts.append(inputs1 if v == 1 else inputs2)
    ids_q = t5_ids(vcr_q)
    piece_ids.append(ids_q[0].tolist())
    parts.append(embed(ids_q))
    enc_r = torch.cat(parts, 1)
    g, b, d, lg = run(enc_r, 5, 20, 1.0)
    cases["vcr"] = {"question": vcr_q, "piece_ids": piece_ids, "greedy": g, "beam": b,
                    "logits_for": d, "beams": 5, "max_new_tokens": 20, "length_penalty": 1.0,
                    "beam_text": t5_tok.decode(b, skip_special_tokens=True)}
    tensors["logits_vcr"] = lg

    # ---- the HF layout: Blip2ForConditionalGeneration with the same weights
    bcfg = Blip2Config(
        vision_config={"hidden_size": VIT_W, "intermediate_size": vit_mlp,
                       "num_hidden_layers": VIT_DEPTH, "num_attention_heads": VIT_HEADS,
                       "image_size": IMAGE_SIZE, "patch_size": 14, "hidden_act": "gelu",
                       "layer_norm_eps": 1e-6, "qkv_bias": True},
        qformer_config={"vocab_size": len(bert_tok), "hidden_size": QF_H,
                        "num_hidden_layers": QF_LAYERS, "num_attention_heads": QF_HEADS,
                        "intermediate_size": QF_INTER, "max_position_embeddings": 64,
                        "layer_norm_eps": 1e-12, "cross_attention_frequency": 2,
                        "encoder_hidden_size": VIT_W},
        text_config=t5json, num_query_tokens=NUM_QUERY)
    bcfg.text_config.dense_act_fn = "gelu"
    hf = Blip2ForConditionalGeneration(bcfg).eval()
    hsd = {}
    vsd = vit.state_dict()
    hsd["vision_model.embeddings.class_embedding"] = vsd["cls_token"]
    hsd["vision_model.embeddings.position_embedding"] = vsd["pos_embed"]
    hsd["vision_model.embeddings.patch_embedding.weight"] = vsd["patch_embed.proj.weight"]
    hsd["vision_model.embeddings.patch_embedding.bias"] = vsd["patch_embed.proj.bias"]
    for i in range(VIT_DEPTH):
        a, h = "blocks.%d." % i, "vision_model.encoder.layers.%d." % i
        for s, t in (("norm1", "layer_norm1"), ("norm2", "layer_norm2"), ("mlp.fc1", "mlp.fc1"),
                     ("mlp.fc2", "mlp.fc2"), ("attn.proj", "self_attn.projection")):
            hsd[h + t + ".weight"] = vsd[a + s + ".weight"]
            hsd[h + t + ".bias"] = vsd[a + s + ".bias"]
        hsd[h + "self_attn.qkv.weight"] = vsd[a + "attn.qkv.weight"]
        hsd[h + "self_attn.qkv.bias"] = torch.cat(
            [vsd[a + "attn.q_bias"], torch.zeros_like(vsd[a + "attn.v_bias"]), vsd[a + "attn.v_bias"]])
    hsd["vision_model.post_layernorm.weight"] = ln_vision.weight
    hsd["vision_model.post_layernorm.bias"] = ln_vision.bias
    hsd["query_tokens"] = query_tokens
    hsd["language_projection.weight"] = t5_proj.weight
    hsd["language_projection.bias"] = t5_proj.bias
    for k, v in Qformer.state_dict().items():
        if not k.startswith("bert.") or k == "bert.embeddings.position_ids":
            continue
        k = k[len("bert."):]
        if k.startswith("embeddings.LayerNorm."):
            hsd["qformer.layernorm." + k.split(".")[-1]] = v
        elif k.startswith("embeddings.") or ".intermediate." in k or (
                ".output." in k and "attention.output." not in k):
            continue  # the text parts: no slot in Blip2ForConditionalGeneration
        else:
            hsd["qformer." + k.replace(".attention.self.", ".attention.attention.")
                .replace(".crossattention.self.", ".crossattention.attention.")] = v
    for k, v in t5.state_dict().items():
        hsd["language_model." + k] = v
    inc = hf.load_state_dict(hsd, strict=False)
    if inc.unexpected_keys:
        fail("HF unexpected keys %s" % inc.unexpected_keys)
    # The text FFN (intermediate/output) is created by this transformers version but unused on
    # the text-free path; anything else missing is an error.
    bad = [k for k in inc.missing_keys if ".intermediate." not in k and not
           (".output." in k and ".attention.output." not in k and ".crossattention.output." not in k)]
    if bad:
        fail("HF missing keys %s" % bad)
    hf.save_pretrained(hfdir, safe_serialization=True)
    shutil.copy(os.path.join(t5dir, "spiece.model"), hfdir)
    shutil.copy(os.path.join(t5dir, "tokenizer_config.json"), hfdir)
    hf = Blip2ForConditionalGeneration.from_pretrained(hfdir).eval().float()
    hf_logits = hf(pixel_values=pixels, input_ids=ids_v,
                   decoder_input_ids=torch.tensor([cases["vqa"]["logits_for"]])).logits[0]
    hf_beam = hf.generate(pixel_values=pixels, input_ids=ids_v, do_sample=False, num_beams=5,
                          max_new_tokens=10, min_length=1, length_penalty=-1.0)
    cases["hf"] = {"prompt": prompt_v, "t5_ids": ids_v[0].tolist(), "beam": hf_beam[0].tolist(),
                   "logits_for": cases["vqa"]["logits_for"]}
    tensors["logits_hf"] = hf_logits
    tensors["vision_hf"] = hf.vision_model(pixels).last_hidden_state[0]

    tensors.update({
        "pixels": pixels[0], "vision": image_embeds[0], "queries_text": q1[0],
        "queries_text_2": q2[0], "queries_free": q_free[0], "inputs_t5_text": inputs1[0],
        "inputs_t5_free": inputs_free[0],
        "pos_embed": vit.pos_embed[0],
    })
    save_file({k: v.detach().float().contiguous().clone() for k, v in tensors.items()},
              os.path.join(staging, "reference.safetensors"))
    ref = {
        "regionvlm_commit": args.regionvlm_commit, "torch": torch.__version__,
        "transformers": transformers.__version__, "numpy": np.__version__, "seed": args.seed,
        "image": args.image, "image_size": [W, H],
        "region_1_box": list(REGION_1), "region_1_points": pts1.tolist(), "point_string_1": str1,
        "bert_ids_1": bert_ids1, "region_2_points": [list(p) for p in REGION_2],
        "point_string_2": str2, "bert_ids_2": bert_ids2,
        "bert_ids_empty": bert_tok([""], truncation=True, max_length=MAX_TXT_LEN).input_ids[0],
        "cases": cases,
        "files": {os.path.relpath(os.path.join(r, f), staging): sha256(os.path.join(r, f))
                  for r, _, fs in os.walk(mdir) for f in fs},
    }
    with open(os.path.join(staging, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    out = os.path.join(repo, args.out)
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.move(staging, out)
    shutil.rmtree(staging_root, ignore_errors=True)
    for name, c in cases.items():
        print(name, "beam", c["beam"], "greedy", c.get("greedy"))
    print("point strings:", str1, "|", str2)
    print("wrote", out)


if __name__ == "__main__":
    main()
