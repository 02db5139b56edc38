"""vLLM's CPU build timed as `regionchat-cli speed` times RegionChat (issue 24).

    python bench_vllm.py MODEL_DIR [--dtype fp32|bf16] [--runs 5] --prompt-tokens N
        [--new-tokens 32] [--second-tokens 20] [--json]

The offline engine (vllm.LLM) in this process (run with VLLM_ENABLE_V1_MULTIPROCESSING=0, so
peak RSS is this process's), prefix caching on. The prompt is token ids: BOS, the image's
placeholder tokens, random text ids, --prompt-tokens in all, with a 640x480 image of random
pixels. Time to first token: generate with max_tokens 1 (a new image each run, so no cache
hit); decode tokens/s: generate of --new-tokens (min_tokens equal, EOS ignored), its time less
the first token's, over new-tokens - 1; second turn: the prompt, the answer and
--second-tokens - 1 more ids, max_tokens 1, the first turn's blocks reused from the prefix
cache. vLLM reports no image encode time of its own: n/a. Runs in the virtualenv
tools/peers/make-venv-vllm.sh makes; not used by CI.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time

import numpy as np
from PIL import Image

from bench_result import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--dtype", default="bf16", choices=["fp32", "bf16"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prompt-tokens", type=int, required=True)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--second-tokens", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    # A folder without an image processor config (make-checkpoint's) gets CLIP's.
    model = a.model
    if not any(os.path.exists(os.path.join(a.model, f))
               for f in ("preprocessor_config.json", "processor_config.json")):
        model = tempfile.mkdtemp()
        for f in os.listdir(a.model):
            os.symlink(os.path.join(os.path.abspath(a.model), f), os.path.join(model, f))
        side = cfg["vision_config"]["image_size"]
        json.dump({"image_processor_type": "CLIPImageProcessor", "do_resize": True,
                   "size": {"shortest_edge": side}, "do_center_crop": True,
                   "crop_size": {"height": side, "width": side}, "do_normalize": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "do_rescale": True,
                   "rescale_factor": 1 / 255, "do_convert_rgb": True},
                  open(os.path.join(model, "preprocessor_config.json"), "w"))
    import vllm
    from vllm import LLM, SamplingParams
    vision = cfg["vision_config"]
    image_tokens = (vision["image_size"] // vision["patch_size"]) ** 2
    image_id = cfg["image_token_index"]
    vocab = cfg["text_config"]["vocab_size"]
    t0 = time.perf_counter()
    llm = LLM(model=model, dtype="float32" if a.dtype == "fp32" else "bfloat16",
              max_model_len=a.prompt_tokens + a.new_tokens + a.second_tokens + 64,
              enable_prefix_caching=True, limit_mm_per_prompt={"image": 1})
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)

    def ids(n):
        x = rng.integers(3, vocab - 2, n)
        x[x == image_id] = 3
        return [int(v) for v in x]

    def image():
        return Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))

    def gen(prompt_ids, img, n):
        sp = SamplingParams(temperature=0, max_tokens=n, min_tokens=n, ignore_eos=True)
        t = time.perf_counter()
        out = llm.generate({"prompt_token_ids": prompt_ids, "multi_modal_data": {"image": img}},
                           sp, use_tqdm=False)
        return out[0].outputs[0].token_ids, (time.perf_counter() - t) * 1000

    rows = []
    n_text = a.prompt_tokens - 1 - image_tokens
    for run in range(a.runs + 1):
        img = image()
        prompt = [1] + [image_id] * image_tokens + ids(n_text)
        _, first_ms = gen(prompt, img, 1)
        img2 = image()  # a new image: the first turn is not a cache hit
        answer, total_ms = gen(prompt, img2, a.new_tokens)
        decode_tps = (a.new_tokens - 1) / max(1e-9, (total_ms - first_ms) / 1000)
        _, second_ms = gen(prompt + list(answer) + ids(a.second_tokens - 1), img2, 1)
        if run:
            rows.append((first_ms, decode_tps, second_ms))
    med = [statistics.median(c) for c in zip(*rows)]
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if model != a.model:
        shutil.rmtree(model, ignore_errors=True)
    report(a.json, "vLLM (CPU)", vllm.__version__, None, a.dtype, a.runs, load_s, a.prompt_tokens,
           a.new_tokens, a.second_tokens, None, med[0], med[1], med[2], peak_rss_kb=usage)


if __name__ == "__main__":
    main()
