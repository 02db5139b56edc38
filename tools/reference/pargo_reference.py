#!/usr/bin/env python3
"""Reference fixtures from ParGo's OWN code (github bytedance/ParGo, AAAI 2025) for RegionChat's
C++ port. It builds a tiny random ParGo checkpoint in the release layout, runs ParGo's original
MME inference code on it (CPU, fp32, no autocast) and records what that code computes.
Nothing of ParGo or of InternLM2's Hugging Face code is copied into this repository: both are
imported at run time from the folders named on the command line.

How to run (from the repository root; the venv comes from tools/reference/make-venv-pargo.sh):

    # ParGo's code (the repository has one real commit, 60b5bd0 "init commit"):
    mkdir -p /tmp/pargo-src
    git --git-dir <ParGo git dir> archive HEAD | tar -x -C /tmp/pargo-src
    # InternLM2's remote code (configuration_internlm2.py, modeling_internlm2.py,
    # tokenization_internlm2.py, tokenization_internlm2_fast.py). ParGo's repository does not
    # contain it. The copy used here is github NanSang2000/S1mpleAgent at 4275caa2, a git
    # mirror of the Hugging Face repository internlm/internlm2-chat-7b. The same files are
    # in internlm/internlm2-7b, the model that ParGo names.
    mkdir -p /tmp/internlm2-code
    git --git-dir <S1mpleAgent git dir> archive HEAD configuration_internlm2.py \
        modeling_internlm2.py tokenization_internlm2.py tokenization_internlm2_fast.py \
        | tar -x -C /tmp/internlm2-code
    /work/venv-pargo/bin/python tools/reference/pargo_reference.py \
        --pargo-src /tmp/pargo-src --pargo-commit 60b5bd09981755fa30c769587ef80627fe0b2f52 \
        --internlm2-code /tmp/internlm2-code \
        --internlm2-source NanSang2000/S1mpleAgent@4275caa205dbb8ff83930e2c1ce6bc62ec49329c

Options: --out (default tests/reference/pargo), --image (default
resources/samples/scene_1000000000.png), --seed (default 4). The script writes everything into a
staging folder in a temporary directory and replaces --out with it only when all of it has
succeeded, so a failed run leaves the previous fixtures as they were. Any error exits non-zero.
(Other copies of the InternLM2 code are not safe to use. IntMeGroup/HarmonyIQA's
modeling_internlm2.py is edited: it adds an `mlpfinal` head and reads a hard-coded
/mnt/... tokenizer inside forward().)

What it builds (fixed seed; every float tensor is float32, and the only integer tensor is BERT's
int64 position_ids buffer):
 1. tokenizer.model: a SentencePiece BPE model that sentencepiece's own trainer trains here. It
    has 400 pieces: <unk>=0, <s>=1, </s>=2, the 256 byte pieces (byte_fallback), the characters
    and about 90 merges. The trainer settings are normalization "identity", add_dummy_prefix
    true and remove_extra_whitespaces false. The training text is a few hundred lines of the
    prompt template's words and MME-style questions; a newline is not in it, so "\\n" encodes
    as the byte piece <0x0A>. InternLM2Tokenizer (remote code, use_fast=False) reads this model.
 2. A tiny InternLM2 built by the remote code's InternLM2ForCausalLM: hidden 128, 2 layers,
    4 heads, 2 KV heads (wqkv rows per KV group: q,q,k,v of 32 each), intermediate 256,
    rope_theta 1e6, rope_scaling dynamic/2.0, max_position_embeddings 1024, rms eps 1e-5,
    no bias, untied output. The weights are random, with values that fp16 represents exactly,
    so ParGo's own torch_dtype=float16 load would not change them. Every output.weight row has
    norm 4; the byte-piece rows have norm 2, so the generated text is mostly real pieces. The
    rows have one norm so that no "hub" token wins from every state. wqkv has std
    1.5/sqrt(128), which sharpens attention. Without these choices the random model repeats
    one token.
 3. ParGo's MiniGPT_v2 (eval/init_models.py), built by its own constructor with
    fusion_method "ParGo" (the released config says "q-former", which crashes; see below). It
    contains:
    - a tiny EVA02 made by ParGo's create_eva_vit/EVAVisionTransformer: width 128, depth 2,
      head_width 64, mlp_ratio 2.6667 (341), 2-D RoPE, subln, SwiGLU, q/v bias, eps 1e-6;
    - ln_vision LayerNorm(128);
    - the partial-global Q-Former: qformer_bert.BertLMHeadModel from a tiny bert/config.json
      (hidden 64, 2 layers, 4 heads, intermediate 128), with cross-attention in every layer,
      304 queries and 288 local queries. ParGo's init_models deletes word_embeddings, cls and
      the text FFN;
    - query_tokens [1,304,64], llm_proj Linear(64,128);
    - LoRA exactly as ParGo sets it up: prepare_model_for_kbit_training, then LoraConfig(r=8,
      lora_alpha=16, so the scale is 2.0 as with the real r=256/alpha=512, dropout 0.05,
      target ["wqkv"]).
    Every parameter is then drawn at random, lora_B included: it is non-zero, so a loader that
    skips the merge fails. The draws are:
    - matrices and convolutions: N(0, gain^2/fan_in), gain 1 (lora_B 0.15);
    - biases, q_bias and v_bias: N(0, 0.1^2);
    - norm weights: U[0.5, 1.5];
    - cls_token, query_tokens and tok_embeddings: N(0, 1);
    - pos_embed and BERT position_embeddings: N(0, 0.5^2).
    The draw order is fixed, from one torch.Generator seeded with --seed.
    With the defaults:
    - image A: greedy stops at EOS after 12 tokens; beam-4 runs all 20 and its last token is
      <s>;
    - greedy and beam differ for A and for B;
    - the LoRA moves A's logits by up to about 10.
 4. tests/reference/pargo/model/ (what the C++ loader reads):
    - config.json: ParGo's configs/MMEBench_interLM2-7B.json with llm_model "internlm2",
      bert_type "bert", ckpt "pargo.pth", lora_r 8 and lora_alpha 16, plus
      "regionchat": {vision_width, vision_depth, vision_head_width}. Every other key, including
      prompt_template and fusion_method "q-former", is as released.
    - pargo.pth: torch.save of MiniGPT_v2.state_dict() without the LLM base weights, that is,
      visual_encoder.* (with the persistent RoPE buffers and their per-block duplicates),
      ln_vision.*, ParGo.bert.* (with embeddings.position_ids), query_tokens, llm_proj.* and
      llm_model.base_model.model.model.layers.N.attention.wqkv.lora_{A,B}.default.weight.
      peft 0.6.2 calls the base weight ...wqkv.weight; it is not in this file.
    - internlm2/: config.json (with auto_map as internlm2-7b has it), generation_config.json,
      pytorch_model.bin (the base weights, from save_pretrained(safe_serialization=False)),
      tokenizer.model, tokenizer_config.json and special_tokens_map.json. No .py files.
    - bert/config.json.
    The script then builds a second MiniGPT_v2 with ckpt_path=pargo.pth, so ParGo's own
    load_fusion_model loads the file. It checks that every tensor arrived, and every output
    below comes from that second model.
 5. Records, in tests/reference/pargo/:
    - rgba.png: a 299x200 RGBA image. Its fully transparent region has non-white RGB and it
      has a semi-transparent ellipse. The width is 299 because int(299 * (448/299)) == 447 in
      double precision, so the letterbox is 447 wide.
    - reference.safetensors: pixels_a and pixels_b [3,336,336], the top-left 336 tile that
      reaches the ViT; vision_a [576,128], what ParGo.bert received as encoder_hidden_states
      (ln_vision output, CLS dropped); query_a [304,64], the BERT last_hidden_state;
      image_embeds_a [304,128], the llm_proj output; logits_a [24,V], the last 24 prompt
      positions from the PEFT-wrapped, unmerged LLM; logits_merged_a, the same after
      merge_and_unload().
    - reference.json: the versions, the prompt, seg0_ids and seg1_ids, the prompt length,
      greedy_ids and beam_ids as generate() returns them (they start with BOS), the decoded
      and post-processed texts, the same for image B, and the lines that ParGo's
      eval_mme_finetuning.main() writes (max_new_tokens 100).

The ORIGINAL code paths used:
- Preprocessing: MMEBenchDataset (pargo/data/datasets/mmebench_datasets.py) on a temporary
  MME-style folder (Data_json/existence.txt and images/existence/...), through a
  DataLoader(batch_size=1) as the eval script builds it. It pastes the alpha channel onto
  white for PNGs, letterboxes to 448 with pad (122,116,104), then applies ToTensor and
  Normalize.
- init_models.split_into_patches(..., 336)[0] gives the tile.
- MiniGPT_v2.context_embeds(..., fusion_method="ParGo"), which runs new_encode_img. Forward
  hooks on ln_vision, ParGo.bert and llm_proj record its intermediates.
- The prompt text and its token ids: ParGo's tokenizer call, repeated with the same
  arguments (add_special_tokens=False, each segment on its own).
- generate() is called on the PEFT model with the eval script's arguments; only
  max_new_tokens differs (20). Greedy uses num_beams=1 and min_length=1.
- The post-processing is the four split/replace lines of eval_mme_finetuning.py:83-86. They
  sit inside main() and cannot be imported, so they are restated here.
- eval_mme_finetuning.main() itself also runs unchanged on the same model (its MiniGPT_v2 name
  is pointed at the model already built) and writes its MME output file.

Run-time patches (monkeypatching and sys.modules stubs only; no ParGo or InternLM2 file is
edited):
- xformers / xformers.ops: a stub whose memory_efficient_attention(q, k, v, p, scale) is
  plain math: softmax((q*scale) k^T) v over [B,N,H,C] inputs (p must be 0). EVA runs its
  xattn=True branch through it.
- Stub modules, used only when the real package is missing (the ParGo venv has none of them):
  fairscale.nn.checkpoint.checkpoint_activations (checkpoint_wrapper, never called),
  pycocotools.coco, pycocoevalcap.eval, nltk.translate.bleu_score (imported by
  pargo/utils/metric.py, not used), loguru (logger), pandas (imported, not used), and
  symbol (mmebench_datasets.py imports `continue_stmt` from it; Python 3.10 removed the
  module).
- pargo.utils gets download_cached_file (raises) and XHUB = {}: pargo/backbone/vision/
  __init__.py imports both, and pargo/utils does not define them.
- apex is not installed, so eva_vit.py uses its own fallback: FusedLayerNorm = its fp32
  LayerNorm subclass (eps 1e-6). Nothing is patched for this.
- init_models.create_eva_vit: a wrapper that calls the real one with the tiny sizes
  (width 128, layers 2, head embed_dim 64). The other arguments are MiniGPT_v2's own.
- init_models.AutoModelForCausalLM.from_pretrained: a wrapper that loads with
  torch_dtype=float32. MiniGPT_v2 asks for float16.
- MiniGPT_v2(vit_precision="fp32"). The eval script keeps the default "fp16", whose
  convert_weights_to_fp16 would make the ViT's Conv/Linear weights half. Without CUDA there
  is no autocast (minigpt.maybe_autocast returns nullcontext), so fp16 weights on CPU would
  fail.
- fusion_method "ParGo" instead of the released "q-former": with "q-former", MiniGPT_v2
  creates no projector and context_embeds raises AttributeError.
- eval_mme_finetuning.MiniGPT_v2 is replaced by a function that returns the model already
  built (with the patches above). main() then runs unchanged; its stdout is discarded.
- The environment sets HF_MODULES_CACHE to a temporary folder, so the remote code is loaded
  from this run's copy.
"""
import argparse
import atexit
import contextlib
import copy
import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import types

SEED_DEFAULT = 4
VOCAB_SIZE = 400
BYTE_ROW_SCALE = 0.5
GEN_TOKENS = 20
LOGIT_ROWS = 24
QUESTION_A = "Is there a red circle in the image?"
QUESTION_B = "Is there a blue ellipse in the image?"
IMAGE_B_SIZE = (299, 200)
TINY_EVA = {"width": 128, "layers": 2, "head_width": 64, "embed_dim": 64}
BERT_CONFIG = {
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": 30522,
}
# internlm/internlm2-7b's config.json layout, tiny sizes.
def internlm2_config(vocab_size):
    return {
        "architectures": ["InternLM2ForCausalLM"],
        "attn_implementation": "eager",
        "auto_map": {
            "AutoConfig": "configuration_internlm2.InternLM2Config",
            "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM",
            "AutoModel": "modeling_internlm2.InternLM2ForCausalLM",
        },
        "bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 128,
        "initializer_range": 0.02,
        "intermediate_size": 256,
        "max_position_embeddings": 1024,
        "model_type": "internlm2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "pad_token_id": 2,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"type": "dynamic", "factor": 2.0},
        "rope_theta": 1000000,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.33.2",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


INTERNLM2_TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer",
                                   "tokenization_internlm2_fast.InternLM2TokenizerFast"]},
    "bos_token": "<s>",
    "clean_up_tokenization_spaces": False,
    "decode_with_prefix_space": False,
    "eos_token": "</s>",
    "model_max_length": 1000000000000000019884624838656,
    "pad_token": "</s>",
    "sp_model_kwargs": None,
    "tokenizer_class": "InternLM2Tokenizer",
    "unk_token": "<unk>",
}
INTERNLM2_SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>",
                                "unk_token": "<unk>"}
INTERNLM2_GENERATION_CONFIG = {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                               "pad_token_id": 2, "transformers_version": "4.33.2"}
INTERNLM2_CODE_FILES = ["configuration_internlm2.py", "modeling_internlm2.py",
                        "tokenization_internlm2.py", "tokenization_internlm2_fast.py"]


def fail(msg):
    raise SystemExit("pargo_reference: " + msg)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def folder_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# --------------------------------------------------------------------------- run-time patches

def install_stubs():
    """sys.modules stubs for what ParGo imports but this venv lacks; returns their names."""
    installed = []

    def add(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        # a spec, so importlib.util.find_spec(name) works (torch._dynamo calls it)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        mod.__pargo_reference_stub__ = True
        sys.modules[name] = mod
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, mod)
        installed.append(name)
        return mod

    def missing(name):
        try:
            return importlib.util.find_spec(name) is None
        except (ImportError, ValueError):
            return True

    # xformers: always replaced by plain attention (same math as eva_vit.py's non-xattn branch).
    def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, op=None):
        if attn_bias is not None or p != 0.0:
            fail("xformers stub: only attn_bias=None, p=0 is supported")
        q = query.permute(0, 2, 1, 3)  # B,N,H,C -> B,H,N,C
        k = key.permute(0, 2, 1, 3)
        v = value.permute(0, 2, 1, 3)
        s = scale if scale is not None else q.shape[-1] ** -0.5
        attn = (q * s) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        return (attn @ v).permute(0, 2, 1, 3)  # back to B,N,H,C

    add("xformers")
    add("xformers.ops", memory_efficient_attention=memory_efficient_attention)

    if missing("fairscale"):
        add("fairscale")
        add("fairscale.nn")
        add("fairscale.nn.checkpoint")
        add("fairscale.nn.checkpoint.checkpoint_activations", checkpoint_wrapper=lambda m, **k: m)
    if missing("pycocotools"):
        add("pycocotools")
        add("pycocotools.coco", COCO=type("COCO", (), {}))
    if missing("pycocoevalcap"):
        add("pycocoevalcap")
        add("pycocoevalcap.eval", COCOEvalCap=type("COCOEvalCap", (), {}))
    if missing("nltk"):
        add("nltk")
        add("nltk.translate")
        add("nltk.translate.bleu_score", sentence_bleu=lambda *a, **k: 0.0)
    if missing("loguru"):
        class _Logger:
            def __getattr__(self, name):
                return lambda *a, **k: print("[loguru-stub]", name, *a)
        add("loguru", logger=_Logger())
    if missing("pandas"):
        add("pandas")
    if missing("symbol"):
        add("symbol", continue_stmt=0)
    return installed


def patch_pargo_utils():
    import pargo.utils as pu

    def download_cached_file(*a, **k):
        raise RuntimeError("pargo_reference: download_cached_file is not available")
    pu.download_cached_file = download_cached_file
    pu.XHUB = {}


# --------------------------------------------------------------------------- inputs

def training_lines():
    """A few hundred lines of text for the tiny tokenizer (template words, MME questions)."""
    template_sentences = [
        "A chat between a curious user and an artificial intelligence assistant.",
        "The assistant gives helpful, detailed, and polite answers to the user's questions.",
        "USER: <Img><ImageHere></Img>",
        "Answer the question using a single word(Yes or No)",
        "ASSISTANT: Yes", "ASSISTANT: No", "Yes", "No", "yes", "no",
        "Please answer yes or no.",
    ]
    colors = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "brown"]
    shapes = ["circle", "square", "triangle", "ellipse", "star", "rectangle"]
    objects = ["dog", "cat", "car", "person", "chair", "bottle", "clock", "bus", "train",
               "bicycle", "umbrella", "bird", "horse", "boat", "cup", "book", "tree"]
    places = ["beach", "kitchen", "forest", "street", "office", "mountain", "bedroom"]
    lines = []
    for i in range(6):
        lines.extend(template_sentences)
    for c in colors:
        for s in shapes:
            lines.append(f"Is there a {c} {s} in the image?")
    for o in objects:
        lines.append(f"Is there a {o} in the image?")
        lines.append(f"Is there a {o} in this image?")
        for n in ("two", "three", "four"):
            lines.append(f"Are there {n} {o}s in the image?")
        lines.append(f"Is the {o} on the left of the {objects[(objects.index(o) + 3) % len(objects)]}?")
        lines.append(f"Is the {o} above the {objects[(objects.index(o) + 5) % len(objects)]}?")
        lines.append(f"Is the color of the {o} {colors[objects.index(o) % len(colors)]}?")
    for p in places:
        lines.append(f"Is this photo taken in a place of {p}?")
        lines.append(f"Is this picture captured in a place of {p}?")
    lines += [
        "Does this artwork exist in the form of painting?",
        "Does this artwork exist in the form of sculpture?",
        "Is this artwork created by an unknown artist?",
        "Is this movie originated from the country or region of usa?",
        "Is the actor inside the red bounding box named Tom Hanks?",
        "Is the word in the logo \"hello\"?",
        "Is the answer to the arithmetic question in the image 65?",
        "Should I stop when I'm about to cross the street?",
        "Is the output of the code in the image 12?",
        "Is it appropriate to translate the Chinese in the image into English 'classic taste'?",
        "Are all the items in this image edible?",
    ]
    return lines


def train_tokenizer(spm, out_path):
    model = io.BytesIO()  # model_writer: no temporary path is recorded in trainer_spec
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines()), model_writer=model, vocab_size=VOCAB_SIZE,
        model_type="bpe", byte_fallback=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>", bos_piece="<s>",
        eos_piece="</s>", normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, num_threads=1, minloglevel=2)
    with open(out_path, "wb") as f:
        f.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=out_path)
    if (sp.unk_id(), sp.bos_id(), sp.eos_id()) != (0, 1, 2) or sp.id_to_piece(1) != "<s>":
        fail("tokenizer special ids are not <unk>=0 <s>=1 </s>=2")
    return sp.get_piece_size()


def make_rgba_image(np, Image, path):
    w, h = IMAGE_B_SIZE
    rs = np.random.RandomState(1234)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 255 // (w - 1)), (yy * 255 // (h - 1)), ((xx + yy) * 3) % 256], -1)
    rgb = (rgb + rs.randint(-20, 21, size=rgb.shape)).clip(0, 255).astype(np.uint8)
    alpha = np.full((h, w), 255, np.uint8)
    # fully transparent rectangle whose RGB is saturated red (ignored after compositing)
    alpha[20:90, 180:280] = 0
    rgb[20:90, 180:280] = (255, 0, 0)
    # semi-transparent blue ellipse
    ell = ((xx - 100) / 70.0) ** 2 + ((yy - 120) / 45.0) ** 2 <= 1.0
    rgb[ell] = (30, 60, 220)
    alpha[ell] = 128
    # alpha ramp along the bottom rows
    alpha[180:, :] = (np.arange(w) * 255 // (w - 1)).astype(np.uint8)[None, :]
    Image.fromarray(np.concatenate([rgb, alpha[..., None]], -1), "RGBA").save(path)


# --------------------------------------------------------------------------- random weights

def fill_random(torch, name, p, gen, gain=1.0):
    """Deterministic random values for one parameter, chosen by its name and shape."""
    shape = tuple(p.shape)
    leaf = name.rsplit(".", 1)[-1]
    if name.endswith("cls_token") or name == "query_tokens" or "tok_embeddings" in name:
        v = torch.randn(shape, generator=gen)
    elif name.endswith("pos_embed") or "position_embeddings" in name:
        v = torch.randn(shape, generator=gen) * 0.5
    elif len(shape) == 1:
        if leaf in ("bias", "q_bias", "v_bias"):
            v = torch.randn(shape, generator=gen) * 0.1
        else:  # LayerNorm / RMSNorm weights
            v = torch.rand(shape, generator=gen) + 0.5
    else:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        v = torch.randn(shape, generator=gen) * (gain / fan_in ** 0.5)
    with torch.no_grad():
        p.copy_(v.to(p.dtype))


def build_llm_weights(torch, AutoConfig, AutoModelForCausalLM, hf_dir, save_dir, gen, gains,
                      byte_ids):
    cfg = AutoConfig.from_pretrained(hf_dir, trust_remote_code=True)
    model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=True, torch_dtype=torch.float32)
    for name, p in model.named_parameters():
        leaf = ".".join(name.split(".")[-2:])
        fill_random(torch, name, p, gen, gain=gains.get(leaf, 1.0))
        with torch.no_grad():
            if name == "output.weight":
                # every row the same norm, so no "hub" token wins everywhere; byte pieces
                # (256 of the 400) at half that norm, so the text is mostly real pieces
                p.mul_(gains["output.weight"] / p.norm(dim=1, keepdim=True))
                p[byte_ids] *= BYTE_ROW_SCALE
            p.copy_(p.half().float())  # values fp16 represents exactly
    model.save_pretrained(save_dir, safe_serialization=False)
    path = os.path.join(save_dir, "pytorch_model.bin")
    if not os.path.isfile(path):
        fail("save_pretrained did not write pytorch_model.bin")
    return path


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pargo-src", default=os.environ.get("PARGO_SRC"), required=False,
                    help="folder holding ParGo's tree (pargo/, eval/, configs/)")
    ap.add_argument("--pargo-commit", default=None, help="commit of that tree (recorded)")
    ap.add_argument("--internlm2-code", default=os.environ.get("INTERNLM2_CODE"),
                    help="folder holding configuration_internlm2.py, modeling_internlm2.py, "
                         "tokenization_internlm2.py (tokenization_internlm2_fast.py optional)")
    ap.add_argument("--internlm2-source", default="unknown",
                    help="where that code came from, e.g. owner/repo@commit (recorded)")
    ap.add_argument("--image", default="resources/samples/scene_1000000000.png")
    ap.add_argument("--out", default="tests/reference/pargo")
    ap.add_argument("--seed", type=int, default=SEED_DEFAULT)
    ap.add_argument("--llm-output-gain", type=float, default=4.0,
                    help="norm of every output.weight row; larger = more peaked logits")
    ap.add_argument("--llm-qkv-gain", type=float, default=1.5,
                    help="std of wqkv times sqrt(hidden); larger = sharper attention")
    ap.add_argument("--llm-wo-gain", type=float, default=1.0,
                    help="std of wo times sqrt(hidden)")
    ap.add_argument("--lora-b-gain", type=float, default=0.15,
                    help="std of lora_B times sqrt(r)")
    ap.add_argument("--keep-temp", action="store_true")
    args = ap.parse_args()
    if not args.pargo_src or not os.path.isdir(os.path.join(args.pargo_src, "pargo")):
        fail("--pargo-src must name the folder that holds ParGo's pargo/ package")
    if not args.internlm2_code or not all(
            os.path.isfile(os.path.join(args.internlm2_code, f)) for f in INTERNLM2_CODE_FILES[:3]):
        fail("--internlm2-code must hold " + ", ".join(INTERNLM2_CODE_FILES[:3]))
    if not os.path.isfile(args.image):
        fail(f"no image {args.image}")
    pargo_src = os.path.abspath(args.pargo_src)
    code_dir = os.path.abspath(args.internlm2_code)
    out = os.path.abspath(args.out)
    image_a = os.path.abspath(args.image)
    pargo_commit = args.pargo_commit
    if pargo_commit is None:
        try:
            pargo_commit = subprocess.check_output(["git", "-C", pargo_src, "rev-parse", "HEAD"],
                                                   stderr=subprocess.DEVNULL, text=True).strip()
        except Exception:
            pargo_commit = "unknown"

    tmp = tempfile.mkdtemp(prefix="pargo-ref-")
    if args.keep_temp:
        print("temporary folder kept:", tmp)
    else:  # removed on success and on failure
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ["HF_MODULES_CACHE"] = os.path.join(tmp, "hf_modules")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.pop("RoPE", None)  # eva_vit.py reads it; unset = the inference path

    import numpy as np
    import PIL
    from PIL import Image
    import sentencepiece as spm
    import torch
    import transformers
    import peft
    import timm
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    stubs = install_stubs()
    sys.path.insert(0, os.path.join(pargo_src, "eval"))
    sys.path.insert(0, pargo_src)
    patch_pargo_utils()
    import init_models  # ParGo's eval/init_models.py
    import eval_mme_finetuning  # ParGo's eval/eval_mme_finetuning.py
    from pargo.data.datasets import mmebench_datasets
    from pargo.backbone.language import qformer_bert
    from pargo.backbone.vision import eva_vit
    for mod in (init_models, mmebench_datasets, qformer_bert, eva_vit):
        if not os.path.abspath(mod.__file__).startswith(pargo_src + os.sep):
            fail(f"{mod.__name__} was not imported from --pargo-src ({mod.__file__})")

    staging = os.path.join(tmp, "staging")
    model_dir = os.path.join(staging, "model")
    llm_fix = os.path.join(model_dir, "internlm2")
    bert_fix = os.path.join(model_dir, "bert")
    for d in (llm_fix, bert_fix):
        os.makedirs(d)

    llm_gains = {"output.weight": args.llm_output_gain, "wqkv.weight": args.llm_qkv_gain,
                 "wo.weight": args.llm_wo_gain}

    # 1. tokenizer ------------------------------------------------------------------------
    vocab = train_tokenizer(spm, os.path.join(llm_fix, "tokenizer.model"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(llm_fix, "tokenizer.model"))
    byte_ids = [i for i in range(vocab) if sp.is_byte(i)]
    if len(byte_ids) != 256:
        fail(f"{len(byte_ids)} byte pieces")

    # 2. InternLM2 folder (fixture copy without .py; a temporary copy with the remote code) --
    def dump(obj, path):
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    dump(internlm2_config(vocab), os.path.join(llm_fix, "config.json"))
    dump(INTERNLM2_GENERATION_CONFIG, os.path.join(llm_fix, "generation_config.json"))
    dump(INTERNLM2_TOKENIZER_CONFIG, os.path.join(llm_fix, "tokenizer_config.json"))
    dump(INTERNLM2_SPECIAL_TOKENS_MAP, os.path.join(llm_fix, "special_tokens_map.json"))
    llm_tmp = os.path.join(tmp, "internlm2")
    shutil.copytree(llm_fix, llm_tmp)
    for f in INTERNLM2_CODE_FILES:
        if os.path.isfile(os.path.join(code_dir, f)):
            shutil.copyfile(os.path.join(code_dir, f), os.path.join(llm_tmp, f))
    weights = build_llm_weights(torch, AutoConfig, AutoModelForCausalLM, llm_tmp,
                                os.path.join(tmp, "llm_save"), gen, llm_gains, byte_ids)
    shutil.copyfile(weights, os.path.join(llm_fix, "pytorch_model.bin"))
    shutil.copyfile(weights, os.path.join(llm_tmp, "pytorch_model.bin"))

    # 3. bert folder: config.json (fixture); the temporary copy also needs a weights file
    #    because init_ParGo calls BertLMHeadModel.from_pretrained(bert_type, ...).
    dump(BERT_CONFIG, os.path.join(bert_fix, "config.json"))
    bert_tmp = os.path.join(tmp, "bert")
    shutil.copytree(bert_fix, bert_tmp)
    bcfg = qformer_bert.BertConfig.from_pretrained(bert_tmp)
    bcfg.encoder_width = TINY_EVA["width"]
    bcfg.add_cross_attention = True
    bcfg.cross_attention_freq = 1
    bcfg.query_length = 304
    bcfg.local_query_length = (288,)
    torch.save(qformer_bert.BertLMHeadModel(bcfg).state_dict(),
               os.path.join(bert_tmp, "pytorch_model.bin"))

    # ParGo config.json: the released file with the tiny model's values.
    released = json.load(open(os.path.join(pargo_src, "configs", "MMEBench_interLM2-7B.json")))
    pargo_cfg = dict(released)
    pargo_cfg.update({"llm_model": "internlm2", "bert_type": "bert", "ckpt": "pargo.pth",
                      "lora_r": 8, "lora_alpha": 16,
                      "regionchat": {"vision_width": TINY_EVA["width"],
                                     "vision_depth": TINY_EVA["layers"],
                                     "vision_head_width": TINY_EVA["head_width"]}})
    if pargo_cfg["prompt_template"] != released["prompt_template"]:
        fail("prompt_template changed")
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(pargo_cfg, f, indent=4)
        f.write("\n")

    # 4. MiniGPT_v2 (patched constructors) -------------------------------------------------
    real_create_eva_vit = init_models.create_eva_vit

    def tiny_create_eva_vit(**params):
        if params.get("width") != 1024 or params.get("layers") != 24:
            fail(f"unexpected EVA parameters from MiniGPT_v2: {params}")
        params = dict(params, width=TINY_EVA["width"], layers=TINY_EVA["layers"],
                      head_width=TINY_EVA["head_width"], embed_dim=TINY_EVA["embed_dim"])
        return real_create_eva_vit(**params)
    init_models.create_eva_vit = tiny_create_eva_vit

    real_auto_lm = init_models.AutoModelForCausalLM

    class Fp32AutoModelForCausalLM:
        @staticmethod
        def from_pretrained(*a, **k):
            k["torch_dtype"] = torch.float32
            return real_auto_lm.from_pretrained(*a, **k)
    init_models.AutoModelForCausalLM = Fp32AutoModelForCausalLM

    def build_minigpt(ckpt_path):
        return init_models.MiniGPT_v2(
            vision_model_name=released["vision_model_name"],
            vision_model=released["vision_model"],
            llm_model=llm_tmp,
            image_size=released["image_size"],
            vit_precision="fp32",
            pad_sym="$$",
            ckpt_path=ckpt_path,
            lora_target_modules=released["lora_target_modules"],
            lora_r=pargo_cfg["lora_r"],
            lora_alpha=pargo_cfg["lora_alpha"],
            fusion_method="ParGo",
            visual_tokens_adjacent=released["visual_tokens_adjacent"],
            bert_type=bert_tmp,
            num_query_token=released["num_query_token"],
            num_local_query_token=released["num_local_query_token"],
            cross_attention_freq=released["cross_attention_freq"],
        )

    trainer = build_minigpt("")
    n_random = 0
    for name, p in trainer.named_parameters():
        if name.startswith("llm_model.") and "lora_" not in name:
            continue
        if "lora_B" in name:
            fill_random(torch, name, p, gen, gain=args.lora_b_gain)
        else:
            fill_random(torch, name, p, gen)
        n_random += 1
    full_sd = trainer.state_dict()
    pargo_sd = {k: v for k, v in full_sd.items()
                if not k.startswith("llm_model.") or "lora_" in k}
    base_keys = sorted(k for k in full_sd if k not in pargo_sd)
    lora_keys = sorted(k for k in pargo_sd if "lora_" in k)
    if not lora_keys or any(torch.count_nonzero(pargo_sd[k]) == 0 for k in lora_keys):
        fail("LoRA tensors missing or zero")
    if any(k.endswith(".base_layer.weight") for k in full_sd):
        fail("unexpected peft base_layer naming")
    pth = os.path.join(model_dir, "pargo.pth")
    torch.save(pargo_sd, pth)
    ln_checks = {
        "ln_vision_eps": trainer.ln_vision.eps,
        "eva_norm_eps": trainer.visual_encoder.blocks[0].norm1.eps,
        "eva_norm_class": type(trainer.visual_encoder.blocks[0].norm1).__module__ + "." +
        type(trainer.visual_encoder.blocks[0].norm1).__name__,
        "eva_num_heads": trainer.visual_encoder.blocks[0].attn.num_heads,
        "eva_mlp_hidden": trainer.visual_encoder.blocks[0].mlp.w1.out_features,
        "bert_local_query_length": list(trainer.ParGo.config.local_query_length),
    }
    del trainer

    model = build_minigpt(pth)  # ParGo's load_fusion_model reads pargo.pth
    model = model.eval()
    loaded_sd = model.state_dict()
    if set(pargo_sd) - set(loaded_sd):
        fail("pargo.pth has keys the model lacks: " + str(sorted(set(pargo_sd) - set(loaded_sd))[:5]))
    for k, v in pargo_sd.items():
        if not torch.equal(loaded_sd[k], v):
            fail(f"{k} did not load from pargo.pth")
    if sorted(k for k in loaded_sd if k not in pargo_sd) != base_keys:
        fail("the keys outside pargo.pth are not exactly the LLM base weights")
    llm_base_file = torch.load(os.path.join(llm_fix, "pytorch_model.bin"), map_location="cpu")
    for k in base_keys:
        hf_key = k[len("llm_model.base_model.model."):]
        if not torch.equal(loaded_sd[k], llm_base_file[hf_key]):
            fail(f"{k} differs from internlm2/pytorch_model.bin:{hf_key}")
    if any(p.dtype != torch.float32 for p in model.parameters()):
        fail("a parameter is not float32")

    # 5. inputs through MMEBenchDataset -----------------------------------------------------
    rgba_path = os.path.join(staging, "rgba.png")
    make_rgba_image(np, Image, rgba_path)
    bench = os.path.join(tmp, "bench")
    os.makedirs(os.path.join(bench, "Data_json"))
    os.makedirs(os.path.join(bench, "images", "existence"))
    shutil.copyfile(image_a, os.path.join(bench, "images", "existence", os.path.basename(image_a)))
    shutil.copyfile(rgba_path, os.path.join(bench, "images", "existence", "rgba.png"))
    with open(os.path.join(bench, "Data_json", "existence.txt"), "w") as f:
        f.write(f"{os.path.basename(image_a)}\t{QUESTION_A}\tYes\n")
        f.write(f"rgba.png\t{QUESTION_B}\tNo\n")
    template = released["prompt_template"]
    dataset = mmebench_datasets.MMEBenchDataset(
        data_file=os.path.join(bench, "Data_json", "existence.txt"), root=bench,
        image_size=released["image_size"], prompt_template=template)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False)
    batches = list(loader)
    if len(batches) != 2:
        fail("MMEBenchDataset skipped an image")

    tok = model.llm_tokenizer
    if type(tok).__name__ != "InternLM2Tokenizer":
        fail(f"tokenizer is {type(tok).__name__}")
    bos_ids = tok(["<s>"], add_special_tokens=False).input_ids[0]
    if bos_ids != [1]:
        fail(f"'<s>' tokenizes to {bos_ids}")

    def postprocess(text):  # eval_mme_finetuning.py:83-86
        text = text.split('</s>')[0]
        text = text.replace("<s>", "")
        text = text.split(r'[/INST]')[-1].strip()
        text = text.split(r'###')[0].strip()
        return text

    captured = {}

    def hook_out(name):
        def h(mod, inp, out_):
            captured[name] = out_
        return h

    def hook_bert(mod, a, kw):
        captured["bert_encoder_hidden_states"] = kw["encoder_hidden_states"]
        captured["bert_query_embeds"] = kw["query_embeds"]
    hooks = [model.ln_vision.register_forward_hook(hook_out("ln_vision")),
             model.llm_proj.register_forward_hook(hook_out("llm_proj")),
             model.ParGo.bert.register_forward_hook(hook_out("bert")),
             model.ParGo.bert.register_forward_pre_hook(hook_bert, with_kwargs=True)]

    gen_common = dict(do_sample=False, min_length=1)
    beam_kwargs = dict(max_new_tokens=GEN_TOKENS, num_beams=4, length_penalty=1, temperature=0.9,
                       do_sample=False, min_length=1, top_p=0.4, repetition_penalty=1)
    greedy_kwargs = dict(max_new_tokens=GEN_TOKENS, num_beams=1, **gen_common)

    records = {}
    tensors = {}
    for tag, batch in zip(("a", "b"), batches):
        img = batch["img"]
        prompts = batch["prompts"]
        if tuple(img.shape) != (1, 3, 448, 448):
            fail(f"image {tag}: dataset gave {tuple(img.shape)}")
        tiles = init_models.split_into_patches(img, patch_size=336)
        if len(tiles) != 1:
            fail("expected one 336 tile")
        tensors[f"pixels_{tag}"] = tiles[0][0].contiguous()
        captured.clear()
        with torch.no_grad():
            embs, attn = model.context_embeds(img, prompts, 3800, "cpu",
                                              released["visual_tokens_adjacent"],
                                              fusion_method="ParGo")
        prompt = prompts[0]
        seg0, seg1 = prompt.split("<ImageHere>")
        seg0_ids = tok(seg0, return_tensors="pt", add_special_tokens=False).input_ids[0].tolist()
        seg1_ids = tok(seg1, return_tensors="pt", add_special_tokens=False).input_ids[0].tolist()
        L = 1 + len(seg0_ids) + 304 + len(seg1_ids)
        if tuple(embs.shape) != (1, L, 128) or attn.sum().item() != L:
            fail(f"context_embeds gave {tuple(embs.shape)}, expected length {L}")
        vision = captured["bert_encoder_hidden_states"][0]
        if not torch.equal(vision, captured["ln_vision"][0, 1:, :]):
            fail("ParGo.bert did not receive ln_vision[:, 1:]")
        query = captured["bert"].last_hidden_state[0]
        image_embeds = captured["llm_proj"][0]
        start = 1 + len(seg0_ids)
        if not torch.equal(embs[0, start:start + 304], image_embeds):
            fail("image embeds are not at 1+len(seg0) in context_embeds' output")
        emb_table = model.llm_model.base_model.model.model.tok_embeddings.weight
        if not torch.equal(embs[0, 0], emb_table[1]) or not torch.equal(
                embs[0, 1:start], emb_table[seg0_ids]) or not torch.equal(
                embs[0, start + 304:], emb_table[seg1_ids]):
            fail("text embeds in context_embeds' output are not tok_embeddings[ids]")

        with torch.no_grad():
            logits = model.llm_model(inputs_embeds=embs, attention_mask=attn).logits[0]
            greedy = model.llm_model.generate(inputs_embeds=embs, attention_mask=attn,
                                              **greedy_kwargs)
            beam = model.llm_model.generate(inputs_embeds=embs, attention_mask=attn,
                                            **beam_kwargs)
        greedy_ids = greedy[0].tolist()
        beam_ids = beam[0].tolist()
        if greedy_ids[0] != 1 or beam_ids[0] != 1:
            fail("generate() output does not start with BOS")
        # manual greedy check: argmax over the full forward, step by step
        with torch.no_grad():
            ids = []
            cur = embs
            for _ in range(GEN_TOKENS):
                nxt = int(model.llm_model(inputs_embeds=cur).logits[0, -1].argmax())
                ids.append(nxt)
                if nxt == 2:
                    break
                cur = torch.cat([cur, emb_table[nxt][None, None]], 1)
        if [1] + ids != greedy_ids:
            fail(f"image {tag}: manual greedy {ids} != generate {greedy_ids}")
        decoded_g = tok.batch_decode(greedy, add_special_tokens=False)[0]
        decoded_b = tok.batch_decode(beam, add_special_tokens=False)[0]
        rec = {
            "image": os.path.basename(image_a) if tag == "a" else "rgba.png",
            "question": QUESTION_A if tag == "a" else QUESTION_B,
            "prompt": prompt,
            "seg0": seg0,
            "seg1": seg1,
            "seg0_ids": seg0_ids,
            "seg1_ids": seg1_ids,
            "seg0_pieces": tok.convert_ids_to_tokens(seg0_ids),
            "seg1_pieces": tok.convert_ids_to_tokens(seg1_ids),
            "prompt_length": L,
            "image_token_offset": start,
            "greedy_ids": greedy_ids,
            "beam_ids": beam_ids,
            "greedy_decoded": decoded_g,
            "beam_decoded": decoded_b,
            "greedy_text": postprocess(decoded_g),
            "beam_text": postprocess(decoded_b),
        }
        if tag == "a":
            tensors["vision_a"] = vision.contiguous()
            tensors["query_a"] = query.contiguous()
            tensors["image_embeds_a"] = image_embeds.contiguous()
            tensors["logits_a"] = logits[-LOGIT_ROWS:].contiguous()
            merged = copy.deepcopy(model.llm_model).merge_and_unload()
            with torch.no_grad():
                lm = merged(inputs_embeds=embs, attention_mask=attn).logits[0]
                greedy_m = merged.generate(inputs_embeds=embs, attention_mask=attn,
                                           **greedy_kwargs)[0].tolist()
            tensors["logits_merged_a"] = lm[-LOGIT_ROWS:].contiguous()
            diff = (lm - logits).abs().max().item()
            print(f"merged vs unmerged: max abs diff {diff:.3g}, "
                  f"max |logit| {logits.abs().max().item():.3g}")
            if diff > 1e-4:
                fail(f"merged vs unmerged logits differ by {diff}")
            # the LoRA actually matters
            with torch.no_grad(), model.llm_model.disable_adapter():
                no_lora = model.llm_model(inputs_embeds=embs, attention_mask=attn).logits[0]
            rec["merged_vs_unmerged_max_abs_diff"] = diff
            rec["merged_vs_unmerged_stored_rows_max_abs_diff"] = (
                tensors["logits_merged_a"] - tensors["logits_a"]).abs().max().item()
            rec["merged_greedy_ids_equal"] = greedy_m == greedy_ids
            rec["no_lora_vs_lora_max_abs_diff"] = (no_lora - logits).abs().max().item()
            rec["logits_rows"] = [L - LOGIT_ROWS, L]
            rec["logits_top1"] = tensors["logits_a"].argmax(-1).tolist()
            del merged
        # letterbox geometry as resize_and_pad computes it (for the record)
        with Image.open(os.path.join(bench, "images", "existence", rec["image"])) as im:
            ratio = min(448 / im.width, 448 / im.height)
            rec["source_size"] = [im.width, im.height]
            rec["source_mode"] = im.mode
            nw, nh = int(im.width * ratio), int(im.height * ratio)
            rec["letterbox_resized_size"] = [nw, nh]
            rec["letterbox_paste_offset"] = [(448 - nw) // 2, (448 - nh) // 2]
        records[tag] = rec
    for h in hooks:
        h.remove()

    # 6. eval_mme_finetuning.main() unchanged, on the model built above -------------------------
    eval_out = os.path.join(tmp, "eval_out")
    eval_args = argparse.Namespace(**dict(released, input=bench, output=eval_out,
                                          fusion_method="ParGo"))
    eval_mme_finetuning.MiniGPT_v2 = lambda **kw: model
    with contextlib.redirect_stdout(io.StringIO()):
        eval_mme_finetuning.main(eval_args)
    # newline="" and split("\n"): print() ends lines with "\n"; a generated "\r" stays inside
    with open(os.path.join(eval_out, "existence.txt"), encoding="utf-8", newline="") as f:
        eval_lines = f.read().split("\n")
    if eval_lines and eval_lines[-1] == "":
        eval_lines.pop()
    if len(eval_lines) != 2:
        fail(f"eval main() wrote {len(eval_lines)} lines")

    # 7. write ------------------------------------------------------------------------------
    for k, v in tensors.items():
        if v.dtype != torch.float32:
            fail(f"{k} is {v.dtype}")
    save_file({k: v.detach().clone() for k, v in tensors.items()},
              os.path.join(staging, "reference.safetensors"))
    code_files = {f: sha256(os.path.join(code_dir, f)) for f in INTERNLM2_CODE_FILES
                  if os.path.isfile(os.path.join(code_dir, f))}
    ref = {
        "about": "ParGo's own code (bytedance/ParGo) on the tiny random checkpoint in model/; "
                 "written by tools/reference/pargo_reference.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "timm": timm.__version__,
            "sentencepiece": spm.__version__,
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "pargo_commit": pargo_commit,
            "internlm2_code_source": args.internlm2_source,
            "internlm2_code_sha256": code_files,
        },
        "seed": args.seed,
        "llm_gains": llm_gains,
        "lora_b_gain": args.lora_b_gain,
        "stubbed_modules": stubs,
        "fusion_method_run": "ParGo",
        "checks": ln_checks,
        "vocab_size": vocab,
        "prompt_template": template,
        "generate_greedy": greedy_kwargs,
        "generate_beam": beam_kwargs,
        "pargo_pth_keys": len(pargo_sd),
        "pargo_pth_lora_keys": lora_keys,
        "llm_base_keys_not_in_pth": base_keys,
        "prompt": records["a"]["prompt"],
        "seg0_ids": records["a"]["seg0_ids"],
        "seg1_ids": records["a"]["seg1_ids"],
        "prompt_length": records["a"]["prompt_length"],
        "greedy_ids": records["a"]["greedy_ids"],
        "beam_ids": records["a"]["beam_ids"],
        "greedy_text": records["a"]["greedy_text"],
        "beam_text": records["a"]["beam_text"],
        "a": records["a"],
        "b": records["b"],
        "eval_script": {
            "note": "eval_mme_finetuning.main() with the released config (fusion_method "
                    "ParGo), max_new_tokens 100, num_beams 4; the lines of its output file",
            "lines": eval_lines,
        },
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }
    with open(os.path.join(staging, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")

    for dirpath, _, files in os.walk(staging):
        for fn in files:
            if fn.endswith(".py"):
                fail(f"a .py file ended up in the fixtures: {os.path.join(dirpath, fn)}")
    old = os.path.join(tmp, "previous")
    if os.path.exists(out):
        shutil.move(out, old)
    try:
        shutil.copytree(staging, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(old):
            shutil.move(old, out)
        raise

    a = records["a"]
    print(f"wrote {out} ({folder_size(out)} bytes)")
    print("prompt length", a["prompt_length"], "seg0", len(a["seg0_ids"]), "seg1", len(a["seg1_ids"]))
    print("greedy", a["greedy_ids"], repr(a["greedy_text"]))
    print("beam  ", a["beam_ids"], repr(a["beam_text"]))
    print("b greedy", records["b"]["greedy_ids"])
    print("b beam  ", records["b"]["beam_ids"])
    print("merged vs unmerged", a["merged_vs_unmerged_max_abs_diff"],
          "lora effect", a["no_lora_vs_lora_max_abs_diff"])


if __name__ == "__main__":
    main()
