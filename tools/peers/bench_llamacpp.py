"""llama.cpp (llama-cpp-python) timed as `regionchat-cli speed` times RegionChat (issue 24).

    python bench_llamacpp.py TEXT_GGUF [--mmproj MMPROJ_GGUF] [--runs 5] --prompt-tokens N
        [--new-tokens 32] [--second-tokens 20] [--threads N] [--json]

The same figures as tools/peers/bench_transformers.py, on llama.cpp's own API: image encode
(the mmproj's CLIP tower and projector through libmtmd, on a 640x480 image of random pixels as
speed's; omitted without --mmproj), time to first token (the encode, then the prompt of
--prompt-tokens tokens and one greedy token; the image's positions hold text ids, which cost the
language model the same), decode tokens/s (--new-tokens greedy tokens, one llama_decode each,
end-of-sequence ignored), the second turn's time to first token (--second-tokens new prompt tokens,
the answer's last among them, its KV cache kept) and peak RSS. Runs in the virtualenv
tools/peers/make-venv-llamacpp.sh makes; not used by CI.
"""
import argparse
import ctypes
import os
import statistics
import time

import numpy as np
import llama_cpp

from bench_result import report


def make_encoder(llm, mmproj, threads):
    """A function encoding one 640x480 image of random pixels through libmtmd (the mmproj's
    CLIP tower and projector) and returning its milliseconds."""
    from llama_cpp import mtmd_cpp as mtmd
    params = mtmd.mtmd_context_params_default()
    params.use_gpu = False
    params.print_timings = False
    params.n_threads = threads
    params.warmup = False
    ctx = mtmd.mtmd_init_from_file(mmproj.encode(), llm.model, params)
    if not ctx:
        raise SystemExit(f"libmtmd could not load {mmproj}")
    w, h = 640, 480
    pixels = np.random.default_rng(1).integers(0, 256, w * h * 3, dtype=np.uint8)
    data = (ctypes.c_uint8 * pixels.size).from_buffer_copy(pixels.tobytes())
    bitmap = mtmd.mtmd_bitmap_init(w, h, data)
    text = mtmd.mtmd_default_marker()
    inp = mtmd.mtmd_input_text(text, len(text), False, True)
    chunks = mtmd.mtmd_input_chunks_init()
    bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
    if mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(inp), bitmaps, 1) != 0:
        raise SystemExit("mtmd_tokenize failed")
    image = None
    for i in range(mtmd.mtmd_input_chunks_size(chunks)):
        chunk = mtmd.mtmd_input_chunks_get(chunks, i)
        if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_IMAGE:
            image = chunk
    if image is None:
        raise SystemExit("no image chunk from mtmd_tokenize")

    def encode():
        t = time.perf_counter()
        if mtmd.mtmd_encode_chunk(ctx, image) != 0:
            raise SystemExit("mtmd_encode_chunk failed")
        return (time.perf_counter() - t) * 1000

    return encode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--mmproj")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prompt-tokens", type=int, required=True)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--second-tokens", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.new_tokens + a.second_tokens + 16,
                          n_batch=512, n_ubatch=512, n_threads=a.threads, n_threads_batch=a.threads,
                          logits_all=False, verbose=False)
    load_s = time.perf_counter() - t0
    vocab = llm.n_vocab()
    rng = np.random.default_rng(0)
    encode = None
    if a.mmproj:
        encode = make_encoder(llm, a.mmproj, a.threads)

    def ids(n):
        return [int(x) for x in rng.integers(3, min(vocab, 32000) - 2, n)]

    def greedy():
        return int(np.argmax(llm.scores[llm.n_tokens - 1]))

    rows = []
    for run in range(a.runs + 1):  # the first is a warm-up
        llm.reset()
        prompt = [llm.token_bos()] + ids(a.prompt_tokens - 1)
        t = time.perf_counter()
        encode_ms = encode() if encode else 0.0
        llm.eval(prompt)
        tok = greedy()
        first_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        for _ in range(a.new_tokens - 1):
            llm.eval([tok])
            tok = greedy()
        decode_tps = (a.new_tokens - 1) / (time.perf_counter() - t)
        t = time.perf_counter()
        llm.eval([tok] + ids(a.second_tokens - 1))
        greedy()
        second_ms = (time.perf_counter() - t) * 1000
        if run:
            rows.append((encode_ms, first_ms, decode_tps, second_ms))
    med = [statistics.median(c) for c in zip(*rows)]
    report(a.json, "llama.cpp", "llama-cpp-python " + llama_cpp.__version__, a.threads, a.label,
           a.runs, load_s, a.prompt_tokens, a.new_tokens, a.second_tokens,
           med[0] if encode else None, med[1], med[2], med[3])


if __name__ == "__main__":
    main()
