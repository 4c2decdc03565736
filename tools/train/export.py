"""Write a trained DSV4Train as an official-format checkpoint (config.json + model.safetensors).

    /usr/bin/python3 tools/train/export.py --ckpt RUN/ckpt.pt --out models/dsv4-mini

Formats as DeepSeek ships V4 (spec §11.3, the make_checkpoint.py inventory): attention
projections, indexer wq_b, shared experts, e_proj/h_proj FP8 e4m3 + ue8m0 128x128; routed
experts FP4 e2m1 packed in I8 + ue8m0 per 32; norms, embedding, head, compressor, indexer
weights_proj and router BF16; hyper-connection, sink, ape and router bias F32; tid2eid I64.
The quantisers and the safetensors writer are make_checkpoint.py's / formats.py's; the
tensor inventory is checked against make_checkpoint.build_tensors for the same config.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from formats import RawTensor, bf16_bits, write_checkpoint  # noqa: E402
from make_checkpoint import build_tensors, quantize_fp4_weight, quantize_fp8_weight  # noqa: E402
from model import weight_format  # noqa: E402


def to_raw(name, t):
    fmt = weight_format(name)
    v = t.detach().float().numpy()
    if fmt == "fp8":
        codes, scale = quantize_fp8_weight(v)
        return {name: RawTensor("F8_E4M3", codes.shape, codes),
                name[:-len("weight")] + "scale": RawTensor("F8_E8M0", scale.shape, scale)}
    if fmt == "fp4":
        packed, scale = quantize_fp4_weight(v)
        return {name: RawTensor("I8", packed.shape, packed),
                name[:-len("weight")] + "scale": RawTensor("F8_E8M0", scale.shape, scale)}
    if fmt == "f32":
        return {name: RawTensor("F32", v.shape, v.astype(np.float32))}
    if fmt == "i64":
        return {name: RawTensor("I64", v.shape, t.numpy().astype(np.int64))}
    return {name: RawTensor("BF16", v.shape, bf16_bits(v))}


def export(tensors, config, out_dir):
    """tensors: name -> torch tensor (DSV4Train.state_tensors()); config: config.json dict."""
    raw = {}
    for name, t in tensors.items():
        raw.update(to_raw(name, t))
    ref = build_tensors(dict(config, _quant="fp8", _seed=0))
    assert set(ref) == set(raw), f"inventory differs: {sorted(set(ref) ^ set(raw))[:8]}"
    for n, r in ref.items():
        assert (r.dtype, tuple(r.shape)) == (raw[n].dtype, tuple(raw[n].shape)), \
            f"{n}: {raw[n].dtype} {raw[n].shape} vs make_checkpoint's {r.dtype} {r.shape}"
    os.makedirs(out_dir, exist_ok=True)
    write_checkpoint(out_dir, raw, n_shards=1)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({k: v for k, v in config.items() if not k.startswith("_")}, f, indent=2)
        f.write("\n")
    return sum(r.nbytes() for r in raw.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    ck = torch.load(args.ckpt)
    n = export(ck["tensors"], ck["config"], args.out)
    print(f"{args.out}: {n / 1e6:.2f} MB of tensors")


if __name__ == "__main__":
    main()
