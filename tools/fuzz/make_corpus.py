#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/ (small valid inputs of each kind, committed):

    /work/venv-pargo/bin/python tools/fuzz/make_corpus.py [--out tests/fuzz/corpus]

torch (torch.save) and Pillow make the checkpoint and image seeds, sentencepiece the tokenizer
seeds; the family configs are the committed test fixtures under tests/reference/ (CoLVA's is
written here, as tests/test_colva.cpp writes its tiny one); everything else is text written
here. Re-running gives the same files (SentencePiece's BPE trainer may order equal-count merges
differently, so its rules.model can change by a few bytes; either is a valid seed).
"""
import argparse
import io
import json
import os
import struct


def safetensors(tensors):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fuzz/corpus")
    out = ap.parse_args().out

    def put(harness, name, data):
        d = os.path.join(out, harness)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    put("fuzz_safetensors", "two.safetensors", safetensors({
        "a": ("F32", [2, 3], struct.pack("<6f", *range(6))),
        "b": ("I64", [2], struct.pack("<2q", -7, 1 << 40))}))
    put("fuzz_safetensors", "index.json", json.dumps({
        "metadata": {"total_size": 12},
        "weight_map": {"a": "model-00001-of-00001.safetensors",
                       "b": "model-00001-of-00001.safetensors"}}))
    put("fuzz_safetensors", "empty-and-scalar.safetensors", safetensors({
        "e": ("F16", [0, 3], b""), "s": ("BOOL", [], b"\x01")}))

    import torch
    for name, obj in {"state_dict.bin": {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2, dtype=torch.int64)},
                      "nested.bin": {"state_dict": {"m.w": torch.zeros(3).half()}, "step": 3},
                      "view.bin": {"t": torch.arange(12.0).reshape(3, 4).t()}}.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        put("fuzz_torch_checkpoint", name, buf.getvalue())

    for i, text in enumerate([
            "The red circle is at [0.12, 0.30, 0.45, 0.61].",
            "<box>[[120, 300, 450, 610]]</box> and <ref>dog</ref><box>[[1,2,3,4]]</box>",
            "[12, 34, 56, 78] pixels; (0.1,0.2),(0.3,0.4)",
            "<|box_start|>(10,20),(30,40)<|box_end|> {\"bbox_2d\": [1, 2, 30, 40]}",
            "Region 1: [0.1, 0.2, 0.3, 0.4]\nRegion 2: [0.5, 0.5, 0.9, 0.9]"]):
        put("fuzz_region_formats", "answer%d.txt" % i, text)

    put("fuzz_chat_template", "turns.txt", "<image>\nWhat is in <region 1>?\0It is a dog.</s>\0And here?")
    put("fuzz_chat_template", "system.txt", "You are {system}\0USER: ASSISTANT: [INST]\0<<SYS>>")

    from PIL import Image
    img = Image.new("RGB", (7, 5), (200, 30, 10))
    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp"), ("GIF", "gif")]:
        buf = io.BytesIO()
        img.save(buf, fmt)
        put("fuzz_image_decode", "tiny." + ext, buf.getvalue())

    put("fuzz_sse", "stream.txt", "\x07" + 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
        ': keep-alive\r\n\r\ndata: {"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
        'data: [DONE]\n\n')
    put("fuzz_sse", "error.txt", "\x03" + 'data: {"error": {"message": "busy"}}\n\nevent: x\ndata: a\ndata: b\n\n')

    put("fuzz_bench_loaders", "mmvm.tsv", "\x00" + "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\n"
        "0\t\"Which?\nA. 1\nB. 2\"\tA\t['match_bench/c/FRAME00.jpg', 'match_bench/c/FRAME01_CAND.jpg']\t[1, 3]\t\"A. 1\nB. 2\"\n")
    put("fuzz_bench_loaders", "grounding.jsonl", "\x01" + '{"image": "a.png", "expression": "the dog", "box": [1, 2, 30, 40]}\n')
    put("fuzz_bench_loaders", "mme.txt", "\x02" + "a.jpg\tIs it red?\tYes\na.jpg\tIs it blue?\tNo\n")
    put("fuzz_bench_loaders", "textvqa.jsonl", "\x03" + '{"question_id": 1, "image": "a.jpg", "text": "What?", "answers": ["x"]}\n')
    put("fuzz_bench_loaders", "seed.json", "\x05" + '{"questions": [{"question_id": "1", "data_id": "a.jpg", "question": "Q?", "choice_a": "x", "choice_b": "y", "choice_c": "z", "choice_d": "w", "answer": "A", "question_type_id": 1}], "question_type": {"Scene": 1}}')
    put("fuzz_bench_loaders", "mmbench.tsv", "\x06" + "index\tquestion\thint\tA\tB\tanswer\tcategory\timage\n0\tQ?\t\tx\ty\tA\tc\tiVBORw0KGgo=\n")

    # fuzz_configs: the first byte picks the reader (0 LLaVA, 1 Pink, 2 ParGo, 3 RegionVLM,
    # 4 CoLVA, 5 SAM, 6 tokenizer_config.json, 7 preprocessor_config.json).
    ref = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference")
    def fixture(rel):
        with open(os.path.join(ref, rel), "rb") as f:
            return f.read()
    # The harness splits an input at NUL bytes: config.json, a/config.json, b/config.json (and
    # b/vocab.txt, w.pth exist); the configs that name folders and files are pointed there.
    def doc(rel, **changes):
        d = json.loads(fixture(rel))
        d.update(changes)
        return json.dumps(d, indent=1).encode()
    seeds = [
        (0, [fixture("llava-e2e/model/config.json")]), (0, [fixture("llava-tiny/config.json")]),
        (1, [doc("pink/pink-tiny/config.json", clip_path="a", llama_path="b"),
             fixture("pink/clip-vit-tiny-patch8/config.json"),
             fixture("pink/llama-2-7b-chat-tiny/config.json")]),
        (2, [doc("pargo/model/config.json", llm_model="a", bert_type="b", ckpt="w.pth"),
             fixture("pargo/model/internlm2/config.json"), fixture("pargo/model/bert/config.json")]),
        (3, [doc("regionvlm/model/config.json", vit_model="w.pth", pretrained="w.pth",
                 finetuned="w.pth", t5_model="a", bert_model="b"),
             fixture("regionvlm/model/flan-t5-xl/config.json"),
             fixture("regionvlm/model/bert-base-uncased/config.json")]),
        (3, [fixture("regionvlm/hf/config.json")]),
        (5, [fixture("sam-tiny/config.json")]),
        (6, [b"{}", fixture("pink/pink-tiny/tokenizer_config.json")]),
        (6, [b"{}", fixture("pargo/model/internlm2/tokenizer_config.json")]),
        (7, [fixture("pink/clip-vit-tiny-patch8/preprocessor_config.json")])]
    for i, (which, parts) in enumerate(seeds):
        put("fuzz_configs", "%02d.json" % i, bytes([which]) + b"\0".join(parts))
    # CoLVA: the tiny model tools/colva-sample.sh writes (transformers 5's rope_parameters).
    phi3 = {"bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 96,
            "intermediate_size": 128, "max_position_embeddings": 8192, "model_type": "phi3",
            "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
            "original_max_position_embeddings": 40, "pad_token_id": 0, "rms_norm_eps": 1e-05,
            "rope_parameters": {"long_factor": [2.0] * 12, "short_factor": [1.25] * 12,
                                "original_max_position_embeddings": 40,
                                "partial_rotary_factor": 1.0, "rope_theta": 10000.0,
                                "rope_type": "longrope", "type": "longrope"},
            "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 300}
    colva = {"downsample_ratio": 0.5, "dynamic_image_size": True, "force_image_size": 56,
             "llm_config": phi3, "max_dynamic_patch": 6, "model_type": "internvl_chat",
             "ps_version": "v2",
             "radio_config": {"args": {"cls_token_per_teacher": True, "cpe_max_size": 128,
                                       "model": "vit_huge_patch16_224", "model_norm": False,
                                       "register_multiple": 4, "teachers": [{}, {}, {}]},
                              "max_resolution": 2048, "patch_size": 16,
                              "regionchat": {"canvas": 64, "depth": 2, "heads": 2, "mlp": 64,
                                             "width": 32}},
             "select_layer": -1, "template": "phi3-chat", "use_thumbnail": True,
             "vision_config": {"hidden_act": "gelu", "hidden_size": 64, "image_size": 56,
                               "intermediate_size": 128, "layer_norm_eps": 1e-06,
                               "norm_type": "layer_norm", "num_attention_heads": 4,
                               "num_hidden_layers": 2, "patch_size": 14,
                               "qk_normalization": False, "qkv_bias": True}}
    added = {str(290 + i): {"content": t, "special": True} for i, t in enumerate(
        ["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>", "<img>", "</img>",
         "<IMG_CONTEXT>"])}
    put("fuzz_configs", "22-colva-tokenizer_config.json",
        bytes([6]) + b"{}\0" + json.dumps({"add_bos_token": True, "added_tokens_decoder": added,
                                 "legacy": False}, indent=1).encode())
    put("fuzz_configs", "20-colva.json", bytes([4]) + json.dumps(colva, indent=1).encode())
    kit = {"model_type": "colva_kit", "model_path": "a", "radio_path": "b",
           "pretrained_pth": "w.pth", "radio_pretrained_pth": "w.pth", "lora_r": 128,
           "lora_alpha": 256}
    radio = dict(colva["radio_config"], model_type="radio")
    put("fuzz_configs", "21-colva-kit.json", bytes([4]) + b"\0".join(
        [json.dumps(kit).encode(), json.dumps({k: v for k, v in colva.items() if k != "radio_config"}).encode(),
         json.dumps(radio).encode()]))

    # fuzz_tokenizer_model: small SentencePiece models, one with a normalisation table of a few
    # rules (the precompiled_charsmap the check walks), one with the identity.
    import sentencepiece as spm
    import tempfile
    text = ["The red cube is on the left.", "What is in <region 1>? A dog.", "Größe 12345 ①"] * 20
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "rules.tsv")
        with open(rules, "w") as f:
            f.write("41\t61\n"      # A -> a
                    "2460\t31\n"    # ① -> 1
                    "FF21\t41\n")   # Ａ -> A
        for name, extra in [("rules", {"normalization_rule_tsv": rules}),
                            ("identity", {"normalization_rule_name": "identity"})]:
            model = io.BytesIO()
            spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model,
                                           vocab_size=60, model_type="bpe", byte_fallback=False,
                                           character_coverage=1.0, num_threads=1,
                                           minloglevel=2, **extra)
            put("fuzz_tokenizer_model", name + ".model", model.getvalue())

    # fuzz_server_request: chat-completions bodies with a data: URL image and regions.
    png = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(png, "PNG")
    import base64
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    put("fuzz_server_request", "text.json", json.dumps({
        "model": "regionchat", "messages": [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Hello"}],
        "max_tokens": 16, "temperature": 0.5, "top_p": 0.9, "stream": True,
        "stream_options": {"include_usage": True}}))
    put("fuzz_server_request", "regions.json", json.dumps({
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                  {"type": "text", "text": "Compare"}]},
                     {"role": "assistant", "content": "Two."},
                     {"role": "user", "content": [
                         {"type": "image_url", "image_url": {"url": url}},
                         {"type": "image_url", "image_url": url},
                         {"type": "text", "text": "What is in <region 1> and <region 2>?"}]}],
        "regions": [{"id": 1, "box": [1, 1, 5, 4]},
                    {"id": 2, "points": [[1, 2], [3, 4]], "scribble": True},
                    {"id": 3, "image": 1, "polygon": [[0, 0], [7, 0], [4, 5]]}],
        "num_beams": 2, "length_penalty": 1.0, "seed": 3, "point_seed": 7}))

    # fuzz_session: a .regionchat file with every kind of region, a mask and a DualFocus answer.
    mask = io.BytesIO()
    Image.new("L", (8, 6), 255).save(mask, "PNG")
    put("fuzz_session", "session.regionchat", json.dumps({
        "format": "regionchat-session", "version": 1,
        "image": {"path": "/tmp/a.png", "sha256": "00" * 32, "width": 8, "height": 6},
        "pair_image": {"path": "/tmp/b.png", "sha256": "11" * 32},
        "regions": [{"id": 1, "kind": "box", "box": [1, 1, 4, 4], "colour": "#ff0000"},
                    {"id": 2, "kind": "point", "box": [0, 0, 8, 6], "colour": "#00ff00",
                     "positive": [[2, 2]], "negative": [[5, 5]],
                     "mask_png": base64.b64encode(mask.getvalue()).decode()},
                    {"id": 3, "kind": "scribble", "box": [2, 2, 3, 3], "colour": "#0000ff",
                     "positive": [[2, 2], [3, 3]]}],
        "chat": [{"role": "user", "text": "What is in <region 1>?"},
                 {"role": "assistant", "text": "A dog [0.1, 0.2, 0.5, 0.6].", "stopped": True,
                  "boxes": [{"box": [1, 1, 4, 4], "label": "dog"}],
                  "focus": {"macro_answer": "A", "micro_answer": "B", "macro_nll": 1.5,
                            "micro_nll": 0.5, "micro_won": True, "box": [1, 1, 4, 4],
                            "crop": [0, 0, 8, 6], "scored": True, "pipeline": "dualfocus",
                            "decided_by": "nll"}}],
        "settings": {"model_dir": "", "dual_focus": True, "max_new_tokens": 64}}, indent=1))


if __name__ == "__main__":
    main()
