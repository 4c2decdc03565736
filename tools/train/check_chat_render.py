"""Cross-check chat_render.py against the C++ chat encoder (`dsv4 tokenize --chat`).

    /usr/bin/python3 tools/train/check_chat_render.py --dsv4 build/apps/dsv4/dsv4 --tokenizer DIR [-n 40]

Draws conversations from make_data.Gen (fixed seed), renders them in python, tokenizes the
text with `dsv4 tokenize --text` and the same conversation as an OpenAI request with
`dsv4 tokenize --chat`; the id lists must be identical.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data  # noqa: E402
from chat_render import render  # noqa: E402


def ids(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)["ids"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsv4", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("-n", type=int, default=40)
    args = ap.parse_args()
    rng = random.Random(1)
    g = make_data.Gen(rng, make_data.wordnet_synsets()[:5000], make_data.fortunes()[:500])
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            msgs, thinking, tools = g.tool_chat() if i % 2 else g.plain_chat()
            text = render(msgs, thinking, tools)
            body = {"messages": msgs, "thinking": {"type": "enabled" if thinking else "disabled"}}
            if tools:
                body["tools"] = tools
            req = os.path.join(tmp, "req.json")
            with open(req, "w", encoding="utf-8") as f:
                json.dump(body, f, ensure_ascii=False)
            txt = os.path.join(tmp, "text.txt")
            with open(txt, "w", encoding="utf-8") as f:
                f.write(text)
            a = ids([args.dsv4, "tokenize", "--tokenizer", args.tokenizer, "--file", txt, "--json"])
            b = ids([args.dsv4, "tokenize", "--tokenizer", args.tokenizer, "--chat", req, "--json"])
            if a != b:
                bad += 1
                print(f"conversation {i}: MISMATCH (python {len(a)} ids, C++ {len(b)} ids)")
                print(text[:3000])
    print(f"{args.n - bad}/{args.n} conversations identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
