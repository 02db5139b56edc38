"""transformers' LLaVA on the CPU, timed as `regionchat-cli speed` times RegionChat (issue 24).

    python bench_transformers.py MODEL_DIR [--dtype fp32|bf16] [--runs 5] [--prompt-tokens N]
        [--new-tokens 32] [--second-tokens 20] [--threads N] [--json]

MODEL_DIR is a llava-hf folder (config.json + model.safetensors): `make-checkpoint DIR 1b`
writes one, tools/peers/run_peers.sh assembles one for the embedded model. No tokenizer is
needed: the prompt is BOS, the image's tokens and random text ids up to --prompt-tokens in all
(tools/peers/bench.sh passes regionchat-cli speed's prompt length).
Per run (medians printed): image encode, time to first token (prefill of image + text tokens
and the first greedy token, `generate(max_new_tokens=1)`), decode tokens/s (`generate` of
--new-tokens with min_new_tokens equal, so EOS cannot end it early: its time less the first
token's, over new-tokens - 1), the second turn's time to first token (--second-tokens new
prompt tokens: the answer's last token, which its cache lacks, and random ids; the cache reused), and the process's peak RSS.
Runs in the virtualenv tools/peers/make-venv-peers.sh makes (PyTorch 2.x and transformers
from PyPI); not used by CI.
"""
import argparse
import statistics
import time

import torch
from transformers import LlavaForConditionalGeneration

from bench_result import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prompt-tokens", type=int, default=0, help="0: image tokens + 50")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--second-tokens", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    t0 = time.perf_counter()
    model = LlavaForConditionalGeneration.from_pretrained(a.model, dtype=dtype).eval()
    load_s = time.perf_counter() - t0
    cfg = model.config
    vision = cfg.vision_config
    side = vision.image_size
    image_tokens = (side // vision.patch_size) ** 2
    vocab = cfg.text_config.vocab_size
    gen = torch.Generator().manual_seed(0)

    n_text = a.prompt_tokens - 1 - image_tokens if a.prompt_tokens > 0 else 50
    if n_text < 1:
        raise SystemExit(f"--prompt-tokens must exceed 1 + {image_tokens} image tokens")

    def prompt(n_text):
        text = torch.randint(3, vocab - 2, (n_text,), generator=gen)
        text[text == cfg.image_token_index] = 3
        ids = torch.cat([torch.tensor([1]), torch.full((image_tokens,), cfg.image_token_index), text])
        return ids[None]

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return out, (time.perf_counter() - t) * 1000

    rows = []
    with torch.inference_mode():
        for run in range(a.runs + 1):  # the first is a warm-up
            pixels = torch.rand((1, 3, side, side), generator=gen).to(dtype)
            ids = prompt(n_text)
            _, encode_ms = timed(lambda: model.model.get_image_features(
                pixel_values=pixels, vision_feature_layer=cfg.vision_feature_layer,
                vision_feature_select_strategy=cfg.vision_feature_select_strategy))
            _, first_ms = timed(lambda: model.generate(
                input_ids=ids, pixel_values=pixels, max_new_tokens=1, do_sample=False))
            out, total_ms = timed(lambda: model.generate(
                input_ids=ids, pixel_values=pixels, max_new_tokens=a.new_tokens,
                min_new_tokens=a.new_tokens, do_sample=False, return_dict_in_generate=True))
            decode_tps = (a.new_tokens - 1) / max(1e-9, (total_ms - first_ms) / 1000)
            more = torch.randint(3, vocab - 2, (1, a.second_tokens - 1), generator=gen)
            second = torch.cat([out.sequences, more], dim=1)
            _, second_ms = timed(lambda: model.generate(
                input_ids=second, cache=out.cache,
                max_new_tokens=1, do_sample=False))
            if run:
                rows.append((encode_ms, first_ms, decode_tps, second_ms))
    med = [statistics.median(c) for c in zip(*rows)]
    report(a.json, "transformers", __import__("transformers").__version__ + ", torch "
           + torch.__version__, torch.get_num_threads(), a.dtype, a.runs, load_s,
           int(ids.shape[1]), a.new_tokens, a.second_tokens, med[0], med[1], med[2], med[3])


if __name__ == "__main__":
    main()
