"""Check the trainer's forward against the reference on an exported checkpoint.

    /usr/bin/python3 tools/train/check_vs_reference.py [--ckpt RUN/ckpt.pt] --held WORK/held.json -n 256

Exports the model (a checkpoint, or a fresh random init) with export.py, loads it with
tools/reference/dsv4_ref.py and compares, on the first n held-out tokens (one prefill):
logits (relative L2 per row, argmax agreement) and next-token loss, for
- trainer with QAT (fake-quantised weights and activations) vs reference with act_quant on,
- trainer with only the weights quantised vs reference with act_quant off;
and the MTP head's next-next-token loss.  The reference rounds to bf16 at every step the
official code does and the trainer does not, so agreement is to ~1e-2, not bit-exact.
"""
import argparse
import json
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import export  # noqa: E402
from mini_config import MINI  # noqa: E402
from model import DSV4Train, quant_weight, weight_format  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import dsv4_ref  # noqa: E402
from formats import bf16  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt")
    ap.add_argument("--held", required=True)
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--out", help="keep the exported checkpoint here")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt) if args.ckpt else None
    config = ck["config"] if ck else MINI      # a run's own config (its window may differ)
    model = DSV4Train(config, seed=5)
    if ck:
        for name, t in ck["tensors"].items():
            model.t(name).data.copy_(t)
    # bf16-stored tensors are rounded by the export: give the trainer the same values
    with torch.no_grad():
        for name in model.names:
            if weight_format(name) == "bf16":
                model.t(name).data.copy_(bf16(model.t(name).data))
    ids = json.load(open(args.held))["ids"][:args.n + 1]
    tokens = torch.tensor(ids[:-1])
    target = torch.tensor(ids[1:])
    out = args.out or tempfile.mkdtemp()
    export(model.state_tensors(), config, out)
    for act_quant in (True, False):
        model.qat = act_quant
        if not act_quant:   # weights quantised only
            with torch.no_grad():
                saved = {}
                for name in model.names:
                    fmt = weight_format(name)
                    if fmt in ("fp8", "fp4"):
                        saved[name] = model.t(name).data.clone()
                        model.t(name).data.copy_(quant_weight(model.t(name).data, fmt))
        with torch.no_grad():
            lt, mt, _ = model(tokens[None])
        lt, mt = lt[0], mt[0]
        ref = dsv4_ref.DSV4(out, act_quant=act_quant)
        st = ref.new_state()
        lr, H = ref.forward(tokens, st)
        mr = ref.mtp_logits(H[:-1], tokens[1:], st)
        rel = ((lt - lr).norm(dim=-1) / lr.norm(dim=-1))
        agree = (lt.argmax(-1) == lr.argmax(-1)).float().mean().item()
        loss_t = F.cross_entropy(lt, target).item()
        loss_r = F.cross_entropy(lr, target).item()
        mloss_t = F.cross_entropy(mt, target[1:]).item()
        mloss_r = F.cross_entropy(mr, target[1:]).item()
        print(f"act_quant={act_quant}: logits rel L2 median {rel.median():.4f} max {rel.max():.4f}; "
              f"argmax agree {agree:.3f}; loss trainer {loss_t:.4f} reference {loss_r:.4f}; "
              f"MTP loss trainer {mloss_t:.4f} reference {mloss_r:.4f}", flush=True)
        if not act_quant:
            with torch.no_grad():
                for name, v in saved.items():
                    model.t(name).data.copy_(v)


if __name__ == "__main__":
    main()
