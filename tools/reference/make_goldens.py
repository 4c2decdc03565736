"""Regenerate everything under tests/fixtures/ deterministically (fixed seeds).

    /usr/bin/python3 tools/reference/make_goldens.py [--fixtures tests/fixtures]

Writes
  <fixtures>/models/tiny-bf16/, <fixtures>/models/tiny-fp8/   checkpoints (make_checkpoint.py)
  <fixtures>/golden/<model>/cases.json + <case>.f32           golden logits (golden.py)
  <fixtures>/golden/<model>/<case>.perturbed.f32              the same case with plain fp32
                                                              accumulation (noise floor)
For each model and act_quant in (on, off): prefills of 1, 7, 37, 320 tokens (all positions),
prefill 30 + 12 decode steps, prefill 1 + 40 decode steps, prefill 100 + 40 decode steps, and an
MTP case over 41 tokens.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numerics  # noqa: E402
from dsv4_ref import DSV4  # noqa: E402
from golden import run_logits, run_mtp  # noqa: E402
from make_checkpoint import write_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {"tiny-bf16": 11, "tiny-fp8": 22}     # model -> token seed


def token_cases(vocab, seed):
    """(name, tokens, prefill, all_positions, kind) of one model; same tokens for both modes."""
    rng = np.random.default_rng(seed)

    def ids(n):
        return [int(t) for t in rng.integers(0, vocab, size=n)]

    cases = [(f"prefill{n}", ids(n), n, True, "logits") for n in (1, 7, 37, 320)]
    cases.append(("prefill30_decode12", ids(42), 30, False, "logits"))
    cases.append(("prefill1_decode40", ids(41), 1, False, "logits"))
    mtp = ids(41)
    cases.append(("mtp40", mtp, len(mtp) - 1, False, "mtp"))
    # decode across the first 128-block boundary (HCA entry emitted in decode, window wrapped)
    cases.append(("prefill100_decode40", ids(140), 100, False, "logits"))
    return cases


def run_case(model, tokens, prefill, all_pos, kind):
    if kind == "mtp":
        return run_mtp(model, tokens)
    return run_logits(model, tokens, prefill, all_pos)


def run_perturbed(model, *case):
    """The same case with the large reductions accumulated in plain fp32 (numerics.ACCUM = "f32"):
    a second correct implementation that differs only in summation order."""
    numerics.ACCUM = "f32"
    try:
        return run_case(model, *case)
    finally:
        numerics.ACCUM = "f64"


def noise_floor(ref, alt):
    """Per-row / whole-case relative L2 distance and argmax flips between golden and perturbed
    rows: how far two correct implementations drift apart (bf16 rounding flips cascade)."""
    row = np.sqrt(((alt - ref) ** 2).sum(1) / (ref ** 2).sum(1))
    case_rel = float(np.sqrt(((alt - ref) ** 2).sum() / (ref ** 2).sum()))
    flips = int((alt.argmax(1) != ref.argmax(1)).sum())
    return row, case_rel, flips


def top2_gaps(rows):
    top = np.sort(rows, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=os.path.join(REPO, "tests", "fixtures"))
    args = ap.parse_args()
    t_start = time.time()
    for name, seed in MODELS.items():
        model_dir = os.path.join(args.fixtures, "models", name)
        write_model(model_dir, name)
        out_dir = os.path.join(args.fixtures, "golden", name)
        os.makedirs(out_dir, exist_ok=True)
        for f in os.listdir(out_dir):
            if f.endswith(".f32") or f == "cases.json":
                os.remove(os.path.join(out_dir, f))
        manifest = []
        for act_quant in (True, False):
            model = DSV4(model_dir, act_quant=act_quant)
            for case, tokens, prefill, all_pos, kind in token_cases(model.cfg.vocab_size, seed):
                t0 = time.time()
                spec = (tokens, prefill, all_pos, kind)
                rows = run_case(model, *spec)
                perturbed = run_perturbed(model, *spec)
                noise_row, noise_case, noise_flips = noise_floor(rows, perturbed)
                case_name = f"{case}_{'aq' if act_quant else 'noaq'}"
                rows.tofile(os.path.join(out_dir, case_name + ".f32"))
                perturbed.tofile(os.path.join(out_dir, case_name + ".perturbed.f32"))
                gaps = top2_gaps(rows)
                manifest.append({
                    "name": case_name,
                    "model": f"models/{name}",
                    "tokens": tokens,
                    "prefill": prefill,
                    "all_positions": all_pos,
                    "act_quant": act_quant,
                    "kind": kind,
                    "rows": int(rows.shape[0]),
                    "file": case_name + ".f32",
                    "perturbed_file": case_name + ".perturbed.f32",
                    "min_top2_gap": round(float(gaps.min()), 6),
                    "top2_gap": [round(float(g), 6) for g in gaps],
                    "noise_rel_l2": float(f"{noise_case:.3g}"),
                    "noise_argmax_flips": noise_flips,
                    "noise_row_rel_l2": [float(f"{r:.3g}") for r in noise_row],
                })
                print(f"{name}/{case_name}: {rows.shape[0]} rows, min top-2 gap {gaps.min():.4f}, "
                      f"noise rel-L2 {noise_case:.2g} (max row {noise_row.max():.2g}, "
                      f"{noise_flips} argmax flips) ({time.time() - t0:.1f}s)", flush=True)
        with open(os.path.join(out_dir, "cases.json"), "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
    print(f"done in {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    main()
