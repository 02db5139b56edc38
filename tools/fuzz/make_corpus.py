#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/ (small valid inputs of each kind, committed):

    /work/venv-pargo/bin/python tools/fuzz/make_corpus.py [--out tests/fuzz/corpus]

torch (torch.save) and Pillow make the checkpoint and image seeds; everything else is text
written here. Re-running gives the same files.
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


if __name__ == "__main__":
    main()
