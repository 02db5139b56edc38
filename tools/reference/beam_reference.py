#!/usr/bin/env python3
"""Beam-search reference: transformers 4.33.2's own generate(num_beams=N) (the version ParGo
pins) on a synthetic decoder whose next-token logits are a fixed integer formula of the tokens
generated so far, generating from inputs_embeds (an empty input_ids, as ParGo does). Writes
tests/reference/beam/cases.json: each case's parameters and the ids generate returns;
test_sampler recomputes the same logits in C++ and checks rc::BeamSearch picks the same ids.

    /work/venv-pargo/bin/python tools/reference/beam_reference.py [OUT_JSON]
"""
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import GenerationConfig, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

VOCAB, EOS, BOS = 12, 0, 11


def logits_of(tokens):
    """The synthetic model: distinct logits per row, a function of the ids so far."""
    h = sum((i + 1) * (t + 3) for i, t in enumerate(tokens)) % 101
    n = len(tokens)
    row = [((h * 31 + t * 7 + n * 11) % 97) / 8.0 - 6.0 for t in range(VOCAB)]
    row[EOS] = ((h * 5 + n * 17) % 23) / 4.0 - 4.0 + 0.75 * n
    return row


class Config(PretrainedConfig):
    model_type = "synthetic"


class Synthetic(PreTrainedModel):
    config_class = Config

    def __init__(self, config):
        super().__init__(config)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def get_input_embeddings(self):
        return None

    def prepare_inputs_for_generation(self, input_ids, inputs_embeds=None, **kwargs):
        return {"input_ids": input_ids}

    def forward(self, input_ids=None, **kwargs):
        rows = [logits_of(seq.tolist()[1:]) for seq in input_ids]  # after the BOS
        return CausalLMOutput(logits=torch.tensor(rows, dtype=torch.float32)[:, None, :])


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/reference/beam/cases.json")
    cfg = Config(vocab_size=VOCAB, eos_token_id=EOS, pad_token_id=EOS, bos_token_id=BOS)
    model = Synthetic(cfg).eval()
    cases = []
    for beams, max_new, lp, min_len, early in [
        (2, 6, 1.0, 1, False), (3, 8, 1.0, 1, False), (4, 10, 1.0, 1, False),
        (4, 10, -1.0, 1, False), (4, 12, 2.0, 1, True), (4, 10, 0.0, 2, False),
        (5, 7, 1.0, 1, False), (4, 20, 1.0, 3, False), (1, 8, 1.0, 1, False),
        (4, 30, 1.0, 1, False), (3, 16, 0.5, 2, True),
    ]:
        gen = GenerationConfig(num_beams=beams, max_new_tokens=max_new, length_penalty=lp,
                               min_length=min_len, early_stopping=early, do_sample=False,
                               eos_token_id=EOS, pad_token_id=EOS, bos_token_id=BOS)
        with torch.no_grad():
            ids = model.generate(inputs_embeds=torch.zeros(1, 1, 1), generation_config=gen)
        ids = ids[0].tolist()
        assert ids[0] == BOS
        cases.append({"num_beams": beams, "max_new_tokens": max_new, "length_penalty": lp,
                      "min_new_tokens": max(0, min_len - 1), "length_offset": 1,
                      "early_stopping": early, "ids": ids[1:]})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                               "vocab": VOCAB, "eos": EOS, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
