#!/usr/bin/env python3
"""Writes a LLaVA-1.5 llava-hf folder as the two GGUF files llama.cpp serves it from.

    make_gguf.py MODEL_DIR OUT_DIR

MODEL_DIR is a llava-hf folder (config.json with text_config/vision_config, model.safetensors,
tokenizer.model, optionally chat_template.jinja); OUT_DIR receives
  text-f32.gguf    the LLaMA language model (llama.cpp's "llama" architecture, SentencePiece
                   vocabulary, the folder's chat template as tokenizer.chat_template)
  mmproj-f32.gguf  the CLIP vision tower and the 2-layer MLP projector (llama.cpp's "clip"
                   architecture, projector type "mlp")
llama.cpp's own converter writes the first but refuses a CLIP LLaVA's projector (it takes only
Pixtral-type llava folders), so both are written here with the gguf package's GGUFWriter.
The facts used (key and tensor names, the rotary permutation of q/k) are llama.cpp's GGUF
conventions; no code of llama.cpp is copied. Used by tools/peers/run_peers.sh; not by the product.
"""
import json
import sys
from pathlib import Path

import gguf
import numpy as np
import sentencepiece as spm
from safetensors.numpy import load_file


def rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    # HF stores q/k rows for rotate-half rotary; GGUF's llama expects interleaved pairs.
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def find(tensors: dict, *names: str) -> np.ndarray:
    for n in names:
        if n in tensors:
            return tensors[n]
    raise KeyError(f"none of {names} in the checkpoint")


def write_text(folder: Path, cfg: dict, t: dict, out: Path) -> None:
    tc = cfg["text_config"]
    n_layer, n_head = tc["num_hidden_layers"], tc["num_attention_heads"]
    n_kv = tc.get("num_key_value_heads", n_head)
    width = tc["hidden_size"]
    vocab = tc["vocab_size"]
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name(folder.name)
    w.add_context_length(tc.get("max_position_embeddings", 2048))
    w.add_embedding_length(width)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(tc["intermediate_size"])
    w.add_rope_dimension_count(width // n_head)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(tc.get("rms_norm_eps", 1e-6))
    w.add_rope_freq_base(tc.get("rope_theta", 10000.0))
    w.add_vocab_size(vocab)
    w.add_file_type(0)  # all F32

    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i).encode("utf-8"))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    # The embedding's extra rows (LLaVA's "<image>" token, padding): user-defined tokens.
    image_token = cfg.get("image_token_index")
    for i in range(len(tokens), vocab):
        tokens.append(b"<image>" if i == image_token else f"[PAD{i}]".encode())
        scores.append(-1000.0)
        types.append(gguf.TokenType.USER_DEFINED)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    template = folder / "chat_template.jinja"
    if template.exists():
        w.add_chat_template(template.read_text())

    p = "language_model.model."
    if p + "embed_tokens.weight" not in t:
        p = "model.language_model."
    w.add_tensor("token_embd.weight", find(t, p + "embed_tokens.weight"))
    for i in range(n_layer):
        L = f"{p}layers.{i}."
        w.add_tensor(f"blk.{i}.attn_norm.weight", t[L + "input_layernorm.weight"])
        w.add_tensor(f"blk.{i}.attn_q.weight", rope_permute(t[L + "self_attn.q_proj.weight"], n_head))
        w.add_tensor(f"blk.{i}.attn_k.weight", rope_permute(t[L + "self_attn.k_proj.weight"], n_kv))
        w.add_tensor(f"blk.{i}.attn_v.weight", t[L + "self_attn.v_proj.weight"])
        w.add_tensor(f"blk.{i}.attn_output.weight", t[L + "self_attn.o_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_norm.weight", t[L + "post_attention_layernorm.weight"])
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t[L + "mlp.gate_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_up.weight", t[L + "mlp.up_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_down.weight", t[L + "mlp.down_proj.weight"])
    w.add_tensor("output_norm.weight", t[p + "norm.weight"])
    w.add_tensor("output.weight", find(t, "language_model.lm_head.weight", "lm_head.weight"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_mmproj(folder: Path, cfg: dict, t: dict, out: Path) -> None:
    vc = cfg["vision_config"]
    proc = {}
    for name in ("preprocessor_config.json", "processor_config.json"):
        f = folder / name
        if f.exists():
            j = json.loads(f.read_text())
            proc = j.get("image_processor", j)
            break
    if cfg.get("vision_feature_layer", -2) != -2:
        raise SystemExit("only LLaVA-1.5's feature layer -2 is written (llama.cpp's llava graph)")
    w = gguf.GGUFWriter(str(out), "clip")
    w.add_name(folder.name + " mmproj")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_uint32("clip.vision.image_size", vc["image_size"])
    w.add_uint32("clip.vision.patch_size", vc["patch_size"])
    w.add_uint32("clip.vision.embedding_length", vc["hidden_size"])
    w.add_uint32("clip.vision.feed_forward_length", vc["intermediate_size"])
    w.add_uint32("clip.vision.projection_dim", cfg["text_config"]["hidden_size"])
    w.add_uint32("clip.vision.attention.head_count", vc["num_attention_heads"])
    w.add_float32("clip.vision.attention.layer_norm_epsilon", vc.get("layer_norm_eps", 1e-5))
    # All blocks are stored; llama.cpp's llava graph runs all but the last (feature layer -2)
    # and applies no post-LayerNorm when none is stored.
    w.add_uint32("clip.vision.block_count", vc["num_hidden_layers"])
    w.add_array("clip.vision.image_mean", proc.get("image_mean", [0.48145466, 0.4578275, 0.40821073]))
    w.add_array("clip.vision.image_std", proc.get("image_std", [0.26862954, 0.26130258, 0.27577711]))
    w.add_bool("clip.use_gelu", vc.get("hidden_act", "quick_gelu") == "gelu")
    w.add_uint32("general.file_type", 0)

    v = "vision_tower.vision_model."
    if v + "embeddings.class_embedding" not in t:
        v = "model.vision_tower.vision_model."
    w.add_tensor("v.class_embd", t[v + "embeddings.class_embedding"])
    w.add_tensor("v.patch_embd.weight", t[v + "embeddings.patch_embedding.weight"])
    w.add_tensor("v.position_embd.weight", t[v + "embeddings.position_embedding.weight"])
    w.add_tensor("v.pre_ln.weight", t[v + "pre_layrnorm.weight"])
    w.add_tensor("v.pre_ln.bias", t[v + "pre_layrnorm.bias"])
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.out_proj": "attn_out",
             "layer_norm1": "ln1", "layer_norm2": "ln2", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down"}
    for i in range(vc["num_hidden_layers"]):
        for hf, gg in names.items():
            for kind in ("weight", "bias"):
                w.add_tensor(f"v.blk.{i}.{gg}.{kind}", t[f"{v}encoder.layers.{i}.{hf}.{kind}"])
    mp = "multi_modal_projector." if "multi_modal_projector.linear_1.weight" in t \
        else "model.multi_modal_projector."
    for src, dst in (("linear_1", "mm.0"), ("linear_2", "mm.2")):
        for kind in ("weight", "bias"):
            w.add_tensor(f"{dst}.{kind}", t[f"{mp}{src}.{kind}"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((folder / "config.json").read_text())
    t = {k: np.ascontiguousarray(a, dtype=np.float32)
         for k, a in load_file(str(folder / "model.safetensors")).items()}
    write_text(folder, cfg, t, out / "text-f32.gguf")
    write_mmproj(folder, cfg, t, out / "mmproj-f32.gguf")
    print(f"wrote {out / 'text-f32.gguf'} and {out / 'mmproj-f32.gguf'}")


if __name__ == "__main__":
    main()
