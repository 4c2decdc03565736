"""Teacher-forced loss of a training checkpoint on the tokens it can only get by copying.

    /usr/bin/python3 tools/train/copy_loss.py --ckpt RUN/ckpt.pt [--tokenizer models/dsv4-mini]

1. Weather questions for cities kept out of training (make_data.probe_city), rendered in the
V4 chat format with the correct get_weather call: the mean negative log-likelihood of the
city's tokens inside the call, and their greedy (argmax) accuracy.  A model that copies
drives the loss toward 0; one that guesses from memory stays near log(number of cities it
knows).  A continuous measure of what probe_copy.py counts in whole answers.
2. Lists of held-out cities followed by the same list again (make_data.repeat_doc's form):
NLL per token of the first and of the repeated half.  Without an induction head the two are
about equal; with one the repeated half falls toward 0.
3. Short stories (stories.py) about heroes with made-up names: NLL of the name's tokens at
its first mention and at the later ones.  Only copying makes the later mentions cheap.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_data  # noqa: E402
from chat_render import render  # noqa: E402
from model import DSV4Train  # noqa: E402
from stories import Stories, made_up_name  # noqa: E402


def tokenize(dsv4, tokenizer, text):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
    try:
        out = subprocess.run([dsv4, "tokenize", "--tokenizer", tokenizer, "--file", f.name, "--json"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)["ids"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", default="models/dsv4-mini")
    ap.add_argument("--dsv4", default="build/apps/dsv4/dsv4")
    ap.add_argument("-n", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt)
    model = DSV4Train(ck["config"])
    for name, t in ck["tensors"].items():
        model.t(name).data.copy_(t)
    model.qat = True
    rng = random.Random(11)
    cities = [c for c in make_data.tz_cities() if make_data.probe_city(c)]
    nll, hits, count = 0.0, 0, 0
    for i in range(args.n):
        city = cities[i % len(cities)]
        think = i % 2 == 1
        msgs = [{"role": "user", "content": f"What's the weather in {city}?"},
                {"role": "assistant", "reasoning_content": f"The user wants the weather in {city}. "
                 f"I will call get_weather with city {city}.", "content": "",
                 "tool_calls": [make_data.call("get_weather", {"city": city})]}]
        text = render(msgs, think, [make_data.TOOL_WEATHER])
        cut = text.rindex(city)                       # the city inside the DSML call
        prefix = tokenize(args.dsv4, args.tokenizer, text[:cut])
        full = tokenize(args.dsv4, args.tokenizer, text[:cut + len(city)])
        if full[:len(prefix)] != prefix:
            continue
        ids = torch.tensor(full)[None]
        with torch.no_grad():
            logits = model(ids[:, :-1])[0][0]
        targets = ids[0, len(prefix):]
        lp = F.log_softmax(logits[len(prefix) - 1:], -1)
        nll += -lp.gather(1, targets[:, None]).sum().item()
        hits += int((lp.argmax(-1) == targets).all())
        count += 1
    print(f"step {ck['step']}: city tokens NLL {nll / count:.3f} per city, "
          f"exact argmax {hits}/{count} (held-out cities, teacher-forced)")
    # Lists after 160 tokens of text (the HCA layer needs at least one 128-token block).
    pad = tokenize(args.dsv4, args.tokenizer, "A dictionary entry. " * 40)[:160]
    first = second = 0.0
    n1 = n2 = 0
    for i in range(args.n):
        lst = ", ".join(rng.sample(cities, 5))
        head = tokenize(args.dsv4, args.tokenizer, lst + " | ")
        ids = pad + head + tokenize(args.dsv4, args.tokenizer, lst)
        x = torch.tensor(ids)[None]
        with torch.no_grad():
            logits = model(x[:, :-1])[0][0]
        nll_tok = -F.log_softmax(logits, -1).gather(1, x[0, 1:, None])[:, 0]
        a, b = len(pad), len(pad) + len(head)          # first list: ids[a:b], repeat: ids[b:]
        first += nll_tok[a:b - 1].sum().item()
        n1 += b - 1 - a
        second += nll_tok[b - 1:].sum().item()
        n2 += len(ids) - b
    print(f"step {ck['step']}: repeated lists NLL per token: first {first / n1:.3f}, "
          f"repeat {second / n2:.3f}")
    print(f"step {ck['step']}: " + story_names(model, args, rng))


def story_names(model, args, rng):
    """Mean NLL (whole name) of a made-up hero name at its first and at its later mentions."""
    first, later, n_first, n_later, hits = 0.0, 0.0, 0, 0, 0
    for i in range(args.n):
        name = made_up_name(rng)
        st = Stories(random.Random(1000 + i))
        # after another story: the HCA layer needs at least one 128-token block
        ctx = st.story()[0] + "\n\n"
        text = ctx + st.story(name=name)[0]
        full = tokenize(args.dsv4, args.tokenizer, text)
        with torch.no_grad():
            lp = F.log_softmax(model(torch.tensor(full)[None, :-1])[0][0], -1)
        for k, occ in enumerate(m for m in range(len(ctx), len(text)) if text.startswith(name, m)):
            cut = occ - 1 if text[occ - 1] == " " else occ   # the space belongs to the word
            a = len(tokenize(args.dsv4, args.tokenizer, text[:cut]))
            upto = tokenize(args.dsv4, args.tokenizer, text[:occ + len(name)])
            b = len(upto)
            if full[:b] != upto:
                continue
            tgt = torch.tensor(full[a:b])
            nll = -lp[a - 1:b - 1].gather(1, tgt[:, None]).sum().item()
            if k == 0:
                first, n_first = first + nll, n_first + 1
            else:
                later, n_later = later + nll, n_later + 1
                hits += int((lp[a - 1:b - 1].argmax(-1) == tgt).all())
    return (f"story hero names NLL per name: first mention {first / max(n_first, 1):.3f}, "
            f"later mentions {later / max(n_later, 1):.3f} (exact argmax {hits}/{n_later})")


if __name__ == "__main__":
    main()
