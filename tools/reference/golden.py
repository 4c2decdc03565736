"""Golden logits from the PyTorch reference, mirroring the engine's `dsv4 eval`.

  /usr/bin/python3 tools/reference/golden.py --model DIR --tokens 5,17,3,... --prefill N \\
      --logits-out FILE [--all-positions] [--no-act-quant]
      Prefill the first N tokens (default: all), then feed the remaining tokens one at a time.
      FILE: raw little-endian float32 rows of vocab_size logits: the last prefill position
      (or all N prefill positions with --all-positions), then one row per decode step.

  /usr/bin/python3 tools/reference/golden.py --model DIR --tokens t0,...,tn --mtp-logits-out FILE
      Prefill t0..t(n-1) and write the MTP logits of every pair (H_p, t_(p+1)), p = 0..n-1
      (n rows): the MTP block runs over the pairs like a layer, positions 0..n-1.

  --tokens @file reads the ids (separated by commas and/or whitespace) from a file.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dsv4_ref import DSV4  # noqa: E402


def parse_tokens(spec):
    if spec.startswith("@"):
        with open(spec[1:]) as f:
            spec = f.read()
    return [int(t) for t in spec.replace(",", " ").split()]


def run_logits(model, tokens, prefill=None, all_positions=False):
    """-> float32 [rows, V]: prefill rows (last or all), then one row per decode step."""
    n = len(tokens) if prefill is None else prefill
    assert 1 <= n <= len(tokens), "need 1 <= prefill <= len(tokens)"
    st = model.new_state()
    logits, _ = model.forward(tokens[:n], st)
    rows = [logits if all_positions else logits[-1:]]
    for t in tokens[n:]:
        rows.append(model.forward([t], st)[0])
    return torch.cat(rows).numpy().astype("<f4")


def run_mtp(model, tokens):
    """-> float32 [n, V] MTP logits for pairs (H_p, t_(p+1)), p = 0..n-1 (n = len(tokens) - 1)."""
    assert len(tokens) >= 2 and model.mtp, "MTP needs >= 2 tokens and an mtp.0 block"
    st = model.new_state()
    _, H = model.forward(tokens[:-1], st)
    return model.mtp_logits(H, tokens[1:], st).numpy().astype("<f4")


def main():
    ap = argparse.ArgumentParser(description="dsv4 reference golden logits")
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--tokens", required=True, help="comma-separated ids, or @file")
    ap.add_argument("--prefill", type=int, default=None, help="tokens to prefill (default all)")
    ap.add_argument("--logits-out", help="raw float32 LE logits rows")
    ap.add_argument("--all-positions", action="store_true", help="write every prefill row")
    ap.add_argument("--mtp-logits-out", help="raw float32 LE MTP logits rows")
    ap.add_argument("--no-act-quant", action="store_true",
                    help="disable the FP8/FP4 activation-quantisation simulations")
    args = ap.parse_args()
    if bool(args.logits_out) == bool(args.mtp_logits_out):
        ap.error("give exactly one of --logits-out / --mtp-logits-out")
    tokens = parse_tokens(args.tokens)
    model = DSV4(args.model, act_quant=not args.no_act_quant)
    if max(tokens) >= model.cfg.vocab_size or min(tokens) < 0:
        ap.error(f"token id out of range [0, {model.cfg.vocab_size})")
    if args.logits_out:
        out, path = run_logits(model, tokens, args.prefill, args.all_positions), args.logits_out
    else:
        out, path = run_mtp(model, tokens), args.mtp_logits_out
    out.tofile(path)
    print(f"{path}: {out.shape[0]} rows x {out.shape[1]} logits")


if __name__ == "__main__":
    main()
