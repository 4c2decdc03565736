"""Self-checks of the dsv4 PyTorch reference.  Run:  /usr/bin/python3 tools/reference/test_reference.py

- number formats: e4m3 / e2m1 / ue8m0 / bf16 rounding on known values, codes, FP4 packing;
- safetensors writer/reader round trip (single file and sharded with an index);
- quantised linear layers against a direct evaluation of the spec formula;
- prefill of N tokens + decode == one prefill of N+k tokens (trunk and MTP), several split points;
- the indexer's top-k selects a strict, score-dependent subset in the 320-token case;
- the committed goldens are what the code produces now (bit for bit);
- per-config diagnostics (printed).
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dsv4_ref  # noqa: E402
from dsv4_ref import DSV4, act_quant_fp8, bf16, hadamard, topk_desc  # noqa: E402
from formats import (E4M3_TABLE, RawTensor, block_scale, encode_e2m1, encode_e4m3,  # noqa: E402
                     encode_e8m0, pack_fp4, read_checkpoint, read_safetensors, round_e2m1,
                     round_e4m3, unpack_fp4, write_checkpoint, write_safetensors)
from golden import run_logits, run_mtp  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures")
MODELS = ["tiny-bf16", "tiny-fp8"]


def t(v):
    return torch.tensor(v, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------


def test_e4m3():
    cases = {448.0: 448.0, 2.0 ** -9: 2.0 ** -9, 2.0 ** -6: 2.0 ** -6,
             1.0625: 1.0,            # tie between 1.0 (m=0) and 1.125 (m=1) -> even m=0
             1.1875: 1.25,           # tie between 1.125 (m=1) and 1.25 (m=2) -> 1.25
             17.0: 16.0, 19.0: 20.0,  # ties at exponent 4
             15.5: 16.0,             # tie 15 (m=7) / 16 (next binade, m=0) -> 16
             2.0 ** -10: 0.0,        # half the smallest subnormal -> 0 (even)
             3 * 2.0 ** -10: 2.0 ** -8,   # tie between 1 and 2 subnormal steps -> 2
             5 * 2.0 ** -10: 2.0 ** -8,   # tie between 2 and 3 steps -> 2
             0.3: 0.3125, -0.3: -0.3125, 440.0: 448.0, 0.0: 0.0}
    for x, want in cases.items():
        got = round_e4m3(t([x]))[0].item()
        assert got == want, (x, got, want)
    assert encode_e4m3(np.array([448.0]))[0] == 0x7E
    assert encode_e4m3(np.array([2.0 ** -9]))[0] == 0x01
    assert encode_e4m3(np.array([-1.0]))[0] == 0xB8
    finite = [b for b in range(256) if b not in (0x7F, 0xFF, 0x80)]
    assert np.array_equal(encode_e4m3(E4M3_TABLE[finite]), np.array(finite, dtype=np.uint8))
    assert np.isnan(E4M3_TABLE[0x7F]) and np.isnan(E4M3_TABLE[0xFF])


def test_e2m1():
    cases = {0.25: 0.0, 0.75: 1.0, 1.25: 1.0, 1.75: 2.0, 2.5: 2.0, 3.5: 4.0, 5.0: 4.0,
             6.0: 6.0, 5.5: 6.0, 0.5: 0.5, -0.75: -1.0, -5.0: -4.0, 0.2: 0.0, 0.3: 0.5}
    for x, want in cases.items():
        got = round_e2m1(t([x]))[0].item()
        assert got == want, (x, got, want)
    codes = encode_e2m1(np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -.5, -6]))
    assert list(codes) == [0, 1, 2, 3, 4, 5, 6, 7, 9, 15]
    packed = pack_fp4(np.array([[1, 2, 15, 0]], dtype=np.uint8))
    assert packed.view(np.uint8).tolist() == [[0x21, 0x0F]]          # low nibble = even k
    assert unpack_fp4(packed).tolist() == [[0.5, 1.0, -6.0, 0.0]]


def test_scales_and_bf16():
    assert block_scale(t([448.0]), "e4m3")[0].item() == 1.0
    assert block_scale(t([449.0]), "e4m3")[0].item() == 2.0
    assert block_scale(t([0.0]), "e4m3")[0].item() == 2.0 ** -22    # amax clamped to 1e-4
    assert block_scale(t([6.0]), "e2m1")[0].item() == 1.0
    assert block_scale(t([6.5]), "e2m1")[0].item() == 2.0
    assert block_scale(t([0.0]), "e2m1")[0].item() == 2.0 ** -126
    assert encode_e8m0(np.array([1.0, 2.0 ** -22]))[0] == 127
    assert bf16(t([1 + 2.0 ** -8]))[0].item() == 1.0                  # tie -> even
    assert bf16(t([1 + 3 * 2.0 ** -8]))[0].item() == 1 + 2.0 ** -6   # tie -> even (up)
    x = bf16(torch.randn(5, 64))
    y = hadamard(hadamard(x))                                         # H H^T = n I
    assert (y - x).abs().max() < 0.02 * x.abs().max()


def test_topk_ties():
    x = t([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert topk_desc(x, 3).tolist() == [[1, 2, 4]]


def test_sparse_attn():
    """Blocked online softmax vs a scalar loop and vs the closed form (one block)."""
    torch.manual_seed(0)
    H, d, R = 2, 16, 100
    q, kv = bf16(torch.randn(1, H, d)), bf16(torch.randn(R, d))
    sink = torch.randn(H)
    idx = torch.tensor([list(range(60)) + [-1] * 10 + list(range(60, 90))])   # 100 slots
    o = dsv4_ref.sparse_attn(q, kv, sink, idx, d ** -0.5)
    for h in range(H):                                 # scalar online softmax, blocks of 64
        m, l, acc = float("-inf"), 0.0, torch.zeros(d, dtype=torch.float64)
        ids = idx[0].tolist()
        for b0 in range(0, len(ids), 64):
            blk = [i for i in ids[b0:b0 + 64] if i >= 0]
            z = [float(torch.tensor(float(q[0, h].double() @ kv[i].double()), dtype=torch.float32)
                       * torch.tensor(d ** -0.5, dtype=torch.float32)) for i in blk]
            m_new = max([m] + z)
            alpha = np.exp(np.float64(m - m_new))
            p = [np.float32(np.exp(np.float64(np.float32(zz - m_new)))) for zz in z]
            l = np.float32(np.float32(l * alpha) + np.float32(sum(np.float64(x) for x in p)))
            pv = sum(float(bf16(t([x]))[0]) * kv[i].double() for x, i in zip(p, blk))
            acc = (acc.float() * np.float32(alpha) + pv.float()).double()
            m = m_new
        l = np.float32(l + np.float32(np.exp(np.float64(np.float32(sink[h].item() - m)))))
        want = bf16((acc.float() / l).float())
        assert torch.equal(o[0, h], want), h
    # one block: equals the closed form with the global max
    idx1 = torch.tensor([list(range(40)) + [-1] * 5])
    o1 = dsv4_ref.sparse_attn(q, kv, sink, idx1, d ** -0.5)
    z = (q[0].double() @ kv[:40].double().t()).float() * t(d ** -0.5)           # [H, 40]
    mx = z.amax(-1, keepdim=True)
    e = torch.exp((z - mx).double()).float()
    den = e.double().sum(-1).float() + torch.exp((sink - mx[:, 0]).double()).float()
    want = bf16((bf16(e).double() @ kv[:40].double()).float() / den[:, None])
    assert torch.equal(o1[0], want)


def test_safetensors_roundtrip():
    rng = np.random.default_rng(0)
    tensors = {
        "a.bf16": RawTensor("BF16", (3, 5), rng.integers(0, 65535, 15).astype(np.uint16)),
        "b.f32": RawTensor("F32", (7,), rng.standard_normal(7).astype(np.float32)),
        "c.weight": RawTensor("F8_E4M3", (2, 3), np.array([0, 1, 0x7E, 0x80, 0xB8, 5], np.uint8)),
        "c.scale": RawTensor("F8_E8M0", (1, 1), np.array([[127]], np.uint8)),
        "d.i8": RawTensor("I8", (2, 2), np.array([[-1, 2], [127, -128]], np.int8)),
        "e.i64": RawTensor("I64", (2, 3), np.arange(6, dtype=np.int64) - 3),
        "mtp.0.x": RawTensor("F32", (1,), np.array([1.5], np.float32)),
    }
    with tempfile.TemporaryDirectory() as d:
        n = write_safetensors(os.path.join(d, "one.safetensors"), tensors, {"format": "pt"})
        assert n == os.path.getsize(os.path.join(d, "one.safetensors"))
        with open(os.path.join(d, "one.safetensors"), "rb") as f:
            hlen = int.from_bytes(f.read(8), "little")
        assert hlen % 8 == 0
        back = read_safetensors(os.path.join(d, "one.safetensors"))
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert back[k].data.tobytes() == v.data.tobytes(), k
        write_checkpoint(os.path.join(d, "sharded"), tensors, n_shards=3, last_shard_prefix="mtp.")
        with open(os.path.join(d, "sharded", "model.safetensors.index.json")) as f:
            index = json.load(f)
        assert index["weight_map"]["mtp.0.x"] == "model-00003-of-00003.safetensors"
        assert index["metadata"]["total_size"] == sum(v.nbytes() for v in tensors.values())
        back = read_checkpoint(os.path.join(d, "sharded"))
        for k, v in tensors.items():
            assert back[k].data.tobytes() == v.data.tobytes(), k
    assert tensors["c.weight"].values().tolist() == [[0.0, 2.0 ** -9, 448.0], [-0.0, -1.0, 5 * 2.0 ** -9]]


def test_linear_formula():
    """FP8 / FP4 linears == y = bf16(sum_blocks (q_a . q_w) s_a s_w) evaluated directly."""
    m = DSV4(os.path.join(FIXTURES, "models", "tiny-fp8"))
    x = bf16(torch.randn(3, m.cfg.dim) * 3)
    qa, sa = act_quant_fp8(x)
    assert ((qa * sa.repeat_interleave(128, 1) - x).abs() <= x.abs() / 16 + 1e-6).all()
    for lin in (m.layers[0].attn.wkv, m.layers[0].ffn.experts[0].w1):
        blk = 128 if lin.kind == "fp8" else 32
        scale_w = lin.sw_rows if lin.kind == "fp8" else lin.sw
        acc = torch.zeros(3, lin.N)                                   # fp32 accumulator
        for b in range(lin.K // blk):
            ks = slice(b * blk, (b + 1) * blk)
            part = (qa[:, ks].double() @ lin.qw[:, ks].double().t()).float()
            acc = acc + part * sa[:, b * blk // 128, None] * scale_w[None, :, b]
        assert torch.equal(lin(x), bf16(acc)), lin.kind
        m.act_quant = False
        assert torch.equal(lin(x), bf16((x.double() @ lin.w.double().t()).float()))
        m.act_quant = True


def test_prefill_decode_equivalence():
    for name in MODELS:
        for aq in (True, False):
            m = DSV4(os.path.join(FIXTURES, "models", name), act_quant=aq)
            rng = np.random.default_rng(7)
            # 135 tokens: decode crosses the first HCA block (128) and wraps the window
            toks = [int(v) for v in rng.integers(0, m.cfg.vocab_size, 135)]
            whole, H = m.forward(toks, m.new_state())
            for n in (3, 6, m.cfg.window - 1, m.cfg.window + 1, 120):
                st = m.new_state()
                rows = [m.forward(toks[:n], st)[0]]
                rows += [m.forward([tok], st)[0] for tok in toks[n:]]
                got = torch.cat(rows)
                diff = (got - whole).abs().max().item()
                assert diff <= 1e-5 * whole.abs().max().item(), (name, aq, n, diff)
            # MTP: one prefill over the pairs == pair by pair
            st = m.new_state()
            st.pos = len(toks)
            full = m.mtp_logits(H[:-1], toks[1:], st)
            st2 = m.new_state()
            st2.pos = len(toks)
            split = [m.mtp_logits(H[:5], toks[1:6], st2)]
            split += [m.mtp_logits(H[p:p + 1], toks[p + 1:p + 2], st2)
                      for p in range(5, len(toks) - 1)]
            diff = (torch.cat(split) - full).abs().max().item()
            assert diff <= 1e-5 * full.abs().max().item(), (name, aq, "mtp", diff)


def test_topk_strict_subset():
    for name in MODELS:
        gdir = os.path.join(FIXTURES, "golden", name)
        toks = [c for c in json.load(open(os.path.join(gdir, "cases.json")))
                if c["name"] == "prefill320_aq"][0]["tokens"]
        m = DSV4(os.path.join(FIXTURES, "models", name))
        m.trace = {}
        m.forward(toks, m.new_state())
        strict = not_recent = 0
        for visible, top in m.trace["indexer"]:
            n_sel = (top >= 0).sum(1)
            assert (n_sel == torch.clamp(visible, max=m.cfg.index_topk)).all()
            strict += int((n_sel < visible).sum())
            for row, v in zip(top, visible):          # not simply the most recent entries
                sel = set(row[row >= 0].tolist())
                not_recent += sel != set(range(max(0, int(v) - len(sel)), int(v)))
        assert strict > 0 and not_recent > 0, (name, strict, not_recent)


def test_goldens_reproduce():
    for name in MODELS:
        gdir = os.path.join(FIXTURES, "golden", name)
        cases = json.load(open(os.path.join(gdir, "cases.json")))
        for c in cases:
            if c["name"] not in ("prefill7_aq", "prefill7_noaq", "mtp40_aq", "prefill30_decode12_aq"):
                continue
            m = DSV4(os.path.join(FIXTURES, c["model"]), act_quant=c["act_quant"])
            if c["kind"] == "mtp":
                rows = run_mtp(m, c["tokens"])
            else:
                rows = run_logits(m, c["tokens"], c["prefill"], c["all_positions"])
            ref = np.fromfile(os.path.join(gdir, c["file"]), dtype="<f4").reshape(c["rows"], -1)
            assert np.array_equal(rows, ref), (name, c["name"])


# ----------------------------------------------------------------------------------------------


def diagnostics():
    for name in MODELS:
        d = os.path.join(FIXTURES, "models", name)
        cfg = json.load(open(os.path.join(d, "config.json")))
        print(f"\n== {name}: D={cfg['hidden_size']} L={cfg['num_hidden_layers']} "
              f"ratios={cfg['compress_ratios']} H={cfg['num_attention_heads']}x{cfg['head_dim']} "
              f"rope={cfg['qk_rope_head_dim']} W={cfg['sliding_window']} "
              f"E={cfg['n_routed_experts']}/k={cfg['num_experts_per_tok']} V={cfg['vocab_size']}")
        tensors = read_checkpoint(d)
        dtypes = {}
        for v in tensors.values():
            dtypes[v.dtype] = dtypes.get(v.dtype, 0) + 1
        print(f"   {len(tensors)} tensors {dtypes}, {sum(v.nbytes() for v in tensors.values()) / 1e6:.2f} MB")
        toks = [int(v) for v in np.random.default_rng(3).integers(0, cfg["vocab_size"], 200)]
        out = {}
        for aq in (True, False):
            m = DSV4(d, act_quant=aq)
            m.trace = {}
            comb_stats = []
            orig = dsv4_ref.hc_split_sinkhorn

            def spy(*a, **k):
                pre, post, comb = orig(*a, **k)
                comb_stats.append((comb.min().item(), comb.max().item(),
                                   (comb.sum(-1) - 1).abs().max().item()))
                return pre, post, comb
            dsv4_ref.hc_split_sinkhorn = spy
            lg, H = m.forward(toks, m.new_state())
            dsv4_ref.hc_split_sinkhorn = orig
            out[aq] = lg
            if not aq:
                continue
            gaps = torch.sort(lg, -1).values
            gaps = (gaps[:, -1] - gaps[:, -2])
            clamped = sum(a for a, _ in m.trace["swiglu_clamped"])
            total = sum(b for _, b in m.trace["swiglu_clamped"])
            strict = sum(int(((top >= 0).sum(1) < vis).sum()) for vis, top in m.trace["indexer"])
            queries = sum(int(vis.numel()) for vis, _ in m.trace["indexer"])
            print(f"   logits std {lg.std():.3f}, top-2 gap median {gaps.median():.3f} "
                  f"min {gaps.min():.4f}; HC state rms {H.pow(2).mean().sqrt():.2f}")
            print(f"   swiglu clamp active on {100 * clamped / total:.1f}% of gate/up values; "
                  f"indexer strict subset for {strict}/{queries} CSA queries")
            mn = min(s[0] for s in comb_stats)
            mx = max(s[1] for s in comb_stats)
            rs = max(s[2] for s in comb_stats)
            print(f"   Sinkhorn comb entries in [{mn:.3f}, {mx:.3f}], max |row sum - 1| {rs:.2e}")
        rel = ((out[True] - out[False]).norm() / out[False].norm()).item()
        print(f"   act-quant simulation changes logits by {100 * rel:.1f}% (rel L2, 200 tokens)")


def main():
    tests = [v for k, v in globals().items() if k.startswith("test_")]
    failed = 0
    for fn in tests:
        t0 = time.time()
        try:
            fn()
            print(f"ok   {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}", flush=True)
    diagnostics()
    print(f"\n{len(tests) - failed}/{len(tests)} passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
