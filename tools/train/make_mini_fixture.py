"""Held-out perplexity fixture of dsv4-mini for tests/model/mini_perplexity_test.cc.

    /usr/bin/python3 tools/train/make_mini_fixture.py --model models/dsv4-mini \
        --held WORK/held.json --train WORK/train.json.npy -n 320 --out tests/fixtures/mini

Takes the first n+1 tokens of the held-out token stream (documents never trained on: make_data.py
holds them out by a hash of their text), runs the PyTorch reference (tools/reference/dsv4_ref.py,
act_quant on, one prefill = `dsv4 eval --all-positions`) on the first n, and writes
heldout.json: tokens, the reference's mean next-token NLL and perplexity, and the unigram
baseline (token frequencies of the training corpus, add-one smoothed, on the same targets),
plus heldout.txt (the same tokens as text, for reading).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import dsv4_ref  # noqa: E402


def decode(tokenizer_json, ids):
    """ids -> text with tokenizer.json's vocabulary (GPT-2 byte alphabet) and added tokens."""
    sys.path.insert(0, HERE)
    from train_tokenizer import byte_alphabet
    inv_alpha = {c: b for b, c in byte_alphabet().items()}
    tok = json.load(open(tokenizer_json, encoding="utf-8"))
    added = {a["id"]: a["content"].encode("utf-8") for a in tok["added_tokens"]}
    pieces = {i: bytes(inv_alpha[c] for c in s) for s, i in tok["model"]["vocab"].items()
              if i not in added}
    return b"".join(added.get(i) or pieces[i] for i in ids).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--held", required=True)
    ap.add_argument("--train", required=True, help="training token ids (.npy from train.py)")
    ap.add_argument("-n", type=int, default=320)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ids = json.load(open(args.held))["ids"][:args.n + 1]
    tokens, targets = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
    model = dsv4_ref.DSV4(args.model, act_quant=True)
    logits, _ = model.forward(tokens, model.new_state())
    nll = F.cross_entropy(logits.double(), targets).item()
    train = np.load(args.train)
    V = model.cfg.vocab_size
    counts = np.bincount(train, minlength=V).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    unigram_nll = float(-logp[np.asarray(ids[1:])].mean())
    os.makedirs(args.out, exist_ok=True)
    fixture = {
        "model": os.path.relpath(args.model, os.path.join(HERE, "..", "..")),
        "tokens": ids[:-1], "targets": ids[1:],
        "reference_nll": nll, "reference_perplexity": math.exp(nll),
        "unigram_nll": unigram_nll, "unigram_perplexity": math.exp(unigram_nll),
        "unigram_corpus_tokens": int(len(train)),
        "command": "/usr/bin/python3 tools/train/make_mini_fixture.py " + " ".join(sys.argv[1:]),
    }
    with open(os.path.join(args.out, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write(decode(os.path.join(args.model, "tokenizer.json"), ids))
    with open(os.path.join(args.out, "heldout.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"n {args.n}: reference NLL {nll:.4f} (ppl {math.exp(nll):.2f}); unigram NLL "
          f"{unigram_nll:.4f} (ppl {math.exp(unigram_nll):.2f})")


if __name__ == "__main__":
    main()
