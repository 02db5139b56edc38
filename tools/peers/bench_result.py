"""The one JSON line each tools/peers/bench_*.py prints (bench.sh records it; bench_table.py
reads it): the engine, its settings and the medians, in the fields regionchat-cli speed's JSON
is mapped to."""
import json
import resource


def report(as_json, engine, version, threads, dtype, runs, load_s, prompt_tokens, new_tokens,
           second_tokens, encode_ms, first_ms, decode_tps, second_ms, peak_rss_kb=None):
    """Prints the result (a JSON line, or one "key: value" per line). encode_ms may be None
    (an engine that does not report it); peak RSS defaults to this process's."""
    if peak_rss_kb is None:
        peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "engine": engine, "version": version, "threads": threads, "dtype": dtype, "runs": runs,
        "load_s": round(load_s, 2), "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
        "encode_ms": None if encode_ms is None else round(encode_ms, 1),
        "first_token_ms": round(first_ms, 1), "decode_tokens_per_s": round(decode_tps, 2),
        "second_turn_first_token_ms": round(second_ms, 1), "second_turn_new_tokens": second_tokens,
        "peak_rss_mb": round(peak_rss_kb / 1024),
    }
    print(json.dumps(result) if as_json else "\n".join(f"{k}: {v}" for k, v in result.items()))
