#!/usr/bin/env python3
"""Markdown table of tools/torch2-cpu/ab.sh's JSON lines: per dtype and build, the median over
rounds of each run's medians, and the median over rounds of the B/A ratio of the same round.

    tools/torch2-cpu/table.py out.jsonl [...]
"""
import json
import statistics
import sys

FIGURES = [  # key, label, higher is better
    ("median_image_encode_ms", "image encode ms", False),
    ("median_prefill_ms", "prefill ms", False),
    ("median_first_token_ms", "first token ms", False),
    ("median_decode_tokens_per_s", "decode tokens/s", True),
    ("median_second_turn_first_token_ms", "second turn ms", False),
]


def main(paths):
    runs = [json.loads(l) for p in paths for l in open(p) if l.strip()]
    if not runs:
        sys.exit("no runs")
    builds = list(dict.fromkeys(r["build"] for r in runs))
    if len(builds) != 2:
        sys.exit("expected two builds, found %s" % builds)
    a, b = builds
    print("| model | dtype | figure | %s | %s | %s / %s (per round) |" % (a, b, b, a))
    print("|---|---|---|---:|---:|---:|")
    keyed = {}
    for r in runs:
        keyed.setdefault((r["model"].rstrip("/").split("/")[-1], r["dtype"]), {}).setdefault(
            r["build"], {})[r["round"]] = r
    for (model, dtype), per in keyed.items():
        rounds = sorted(set(per.get(a, {})) & set(per.get(b, {})))
        if not rounds:
            continue
        for key, label, _ in FIGURES + [("peak_rss_bytes", "peak RSS MB", False)]:
            scale = 1e-6 if key == "peak_rss_bytes" else 1
            va = [per[a][k][key] * scale for k in rounds]
            vb = [per[b][k][key] * scale for k in rounds]
            ratio = statistics.median(y / x for x, y in zip(va, vb) if x)
            print("| %s | %s | %s | %.2f | %.2f | %.2f (%s) |" % (
                model, dtype, label, statistics.median(va), statistics.median(vb), ratio,
                ", ".join("%.2f" % (y / x) for x, y in zip(va, vb) if x)))


if __name__ == "__main__":
    main(sys.argv[1:])
