"""The Markdown table of tools/peers/bench.sh's results.jsonl (one JSON object per engine,
model and precision), for the README.

    python3 bench_table.py results.jsonl
"""
import json
import sys


def cell(v, fmt):
    return "n/a" if v is None else fmt.format(v)


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print("| model | engine | precision | prompt | image encode ms | first token ms | decode tokens/s "
          "| 2nd turn first token ms (x first) | peak RSS MB | load s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        first, second = r.get("first_token_ms"), r.get("second_turn_first_token_ms")
        ratio = f" ({second / first:.2f}x)" if first and second is not None else ""
        engine = r["engine"] + (f" ({r['threads']} thr)" if r.get("threads") else "")
        print(f"| {r['model']} | {engine} | {r['dtype']} | {r['prompt_tokens']}+{r['new_tokens']} "
              f"| {cell(r.get('encode_ms'), '{:.1f}')} | {cell(first, '{:.1f}')} "
              f"| {cell(r.get('decode_tokens_per_s'), '{:.2f}')} "
              f"| {cell(second, '{:.1f}')}{ratio} | {cell(r.get('peak_rss_mb'), '{:.0f}')} "
              f"| {cell(r.get('load_s'), '{:.2f}')} |")
    versions = sorted({f"{r['engine']}: {r['version']}" for r in rows if r.get("version")})
    if versions:
        print()
        print("Versions: " + "; ".join(versions) + ".")


if __name__ == "__main__":
    main()
