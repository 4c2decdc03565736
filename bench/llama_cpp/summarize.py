#!/usr/bin/python3
"""Summary of bench/llama_cpp/compare.sh's JSON lines: per metric, each engine's median
over the rounds (with every round's value) and dsv4's speed as a multiple of llama.cpp's.

    summarize.py RUN.jsonl
"""
import json
import statistics
import sys

METRICS = [  # (key, what); llama.cpp's 1-stream decode is llama-bench's (-n 16 -d 64)
    ("prefill512", "prefill, 512-token prompt (tok/s)"),
    ("prefill4096", "prefill, 4096-token prompt (tok/s)"),
    ("decode_b1", "decode, 1 stream (tok/s)"),
    ("decode_b4", "decode, 4 streams (aggregate tok/s)"),
    ("decode_b16", "decode, 16 streams (aggregate tok/s)"),
]


def fmt(median, vs):
    """A median with every round's value beside it."""
    return "-" if median is None else f"{median:.2f} ({', '.join(f'{v:.1f}' for v in vs)})"


def main():
    values = {}  # (engine, metric) -> [values]

    def put(engine, metric, v):
        values.setdefault((engine, metric), []).append(float(v))

    for raw in open(sys.argv[1]):
        raw = raw.strip()
        if not raw:
            continue
        rec = json.loads(raw)
        line = rec["line"]
        if rec["tool"] == "llama-bench":
            if line["n_gen"] == 0:
                put("llama.cpp", f"prefill{line['n_prompt']}", line["avg_ts"])
            elif line["n_prompt"] == 0:
                put("llama.cpp", "decode_b1", line["avg_ts"])
        elif rec["tool"] == "llama-batched-bench":
            # One stream is llama-bench's figure (its standard decode test; over this
            # machine's first five rounds also the faster by the median, 9.48 against
            # 8.14 tok/s); batched-bench's is shown beside it.
            put("llama.cpp" if line["pl"] > 1 else "llama.cpp-batched", f"decode_b{line['pl']}", line["speed_tg"])
        elif rec["tool"] == "dsv4":
            for key, field in [("prefill512", "prefill512_tok_s"), ("prefill4096", "prefill4096_tok_s"),
                               ("decode_b1", "decode_tok_s"), ("decode_b4", "decode_tok_s_batch4"),
                               ("decode_b16", "decode_tok_s_batch16")]:
                if field in line:
                    put("dsv4", key, line[field])

    summary = {}
    print(f"{'':40} {'dsv4':>22} {'llama.cpp':>22} {'dsv4 / llama.cpp':>17}")
    for key, what in METRICS:
        d = values.get(("dsv4", key), [])
        l = values.get(("llama.cpp", key), [])
        md = statistics.median(d) if d else None
        ml = statistics.median(l) if l else None
        ratio = md / ml if md and ml else None
        summary[key] = {"dsv4": d, "llama_cpp": l, "dsv4_median": md, "llama_cpp_median": ml, "ratio": ratio}

        print(f"{what:40} {fmt(md, d):>22} {fmt(ml, l):>22} {'-' if ratio is None else f'{ratio:.2f}x':>17}")
    extra = values.get(("llama.cpp-batched", "decode_b1"), [])
    if extra:
        print(f"(llama.cpp, 1 stream in llama-batched-bench: {', '.join(f'{v:.2f}' for v in extra)} tok/s)")
        summary["llama_batched_bench_decode_b1"] = extra
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
