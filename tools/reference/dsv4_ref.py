"""DeepSeek-V4 forward pass: the dsv4 project's own PyTorch reference.

Follows /work/shared/spec/model.md (sections 2-12, 15) and mirrors the numerics of DeepSeek's
official inference code ("updated" revision: real e4m3 rounding in the in-place FP8 simulation,
SwiGLU clamp on the shared expert too).

Numeric conventions (primitives in numerics.py; numerics.ACCUM selects f64 / f32 evaluation):
- Every activation is a torch.float32 tensor.  Where the official code stores a bf16 tensor we
  round with `bf16()` (RNE), so those tensors hold exactly-bf16 values.
- Reductions the official code accumulates in fp32 (GEMMs, sums, means) are accumulated here in
  float64 and rounded once to fp32 (`mm`, `sum32`): the result is the correctly rounded fp32 of
  the exact sum, independent of BLAS blocking and thread count.
- Means multiply the fp32 sum by fp32(1/n), as CUDA's mean kernel does.
- Python scalars enter fp32 arithmetic as fp32 constants (`f32c`), as in CUDA kernels.

Only batch size 1.  Supported calls, like the official code: a prefill from position 0, then
single-token decode steps with carried per-sequence state (window ring, compressor state,
compressed caches, indexer keys).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formats import bf16, f32c, read_checkpoint, unpack_fp4  # noqa: E402
from numerics import (act_quant_fp8, cos_sin32, exp32, fake_quant, matmul, mean32,  # noqa: E402
                      mm, rms_norm, rsqrt32, sigmoid32, silu32, softplus32, sum32, topk_desc)

torch.set_grad_enabled(False)
NEG_INF = float("-inf")
ATTN_BLOCK = 64  # indices per block of the official sparse-attention kernel (online softmax)


# ==============================================================================================
# linear layers (dispatch on the stored weight dtype, §2.5)
# ==============================================================================================


class Linear:
    """y = x W^T for W [N, K] stored as
    - F8_E4M3 + `.scale` F8_E8M0 [ceil(N/128), ceil(K/128)]  -> kind 'fp8'
    - I8 [N, K/2] packed e2m1 (low nibble = even k) + `.scale` F8_E8M0 [N, K/32] -> kind 'fp4'
    - BF16 (or F32)  -> kind 'bf16' (fp32 accumulation, bf16 out, no activation quantisation)
    With fp32=True the layer is one the official code holds in fp32 (compressor wkv/wgate, router,
    lm head): fp32 input, fp32 weight, fp32 output (kind 'f32')."""

    def __init__(self, model, name, fp32=False):
        w = model.take(name + ".weight")
        self.model = model
        if w.dtype == "F8_E4M3":
            self.kind = "fp8"
            self.qw = w.values()                                   # [N, K] e4m3 values
            N, K = self.qw.shape
            sw = model.take(name + ".scale").values()              # [ceil(N/128), ceil(K/128)]
            assert sw.shape == ((N + 127) // 128, (K + 127) // 128), name
            self.sw_rows = sw.repeat_interleave(128, 0)[:N]        # [N, ceil(K/128)]
            self.w = self.qw * self.sw_rows.repeat_interleave(128, 1)[:, :K]
        elif w.dtype == "I8":
            self.kind = "fp4"
            self.qw = torch.from_numpy(unpack_fp4(w.data))         # [N, K] e2m1 values
            N, K = self.qw.shape
            self.sw = model.take(name + ".scale").values()         # [N, K/32]
            assert self.sw.shape == (N, K // 32), name
            self.w = self.qw * self.sw.repeat_interleave(32, 1)
        else:
            assert w.dtype in ("BF16", "F32"), f"{name}: unsupported dtype {w.dtype}"
            self.kind = "bf16"
            self.w = w.values().float()
        if fp32:
            assert self.kind == "bf16", f"{name} must be stored BF16/F32"
            self.kind = "f32"
        self.N, self.K = self.w.shape

    def __call__(self, x):
        """x [..., K] (bf16 values; fp32 for kind 'f32') -> [..., N] (bf16 values; fp32 for 'f32')."""
        assert x.shape[-1] == self.K
        if self.kind == "f32":
            return mm(x, self.w)
        if self.kind == "bf16" or not self.model.act_quant:
            return bf16(mm(x, self.w))
        lead = x.shape[:-1]
        qa, sa = act_quant_fp8(x.reshape(-1, self.K))              # [M, K], [M, K/128]
        acc = torch.zeros(qa.shape[0], self.N)
        if self.kind == "fp8":
            for kb in range(self.K // 128):                        # fp32 accumulate per 128-block
                k0 = kb * 128
                part = mm(qa[:, k0:k0 + 128], self.qw[:, k0:k0 + 128])
                acc = acc + part * (sa[:, kb:kb + 1] * self.sw_rows[None, :, kb])
        else:
            for c in range(self.K // 32):                          # per 32-chunk (weight scale)
                k0 = c * 32
                part = mm(qa[:, k0:k0 + 32], self.qw[:, k0:k0 + 32])
                acc = acc + part * sa[:, c // 4:c // 4 + 1] * self.sw[None, :, c]
        return bf16(acc).reshape(*lead, self.N)


# ==============================================================================================
# rotary embedding (§6.4) and Hadamard (§6.7)
# ==============================================================================================


def rope_freqs(rd, base, yarn=None):
    """fp32 [rd/2] inverse frequencies; yarn = (factor, original_seq_len, beta_fast, beta_slow)."""
    expo = torch.arange(0, rd, 2, dtype=torch.float32) / rd                 # fp32 i/rd
    freqs = 1.0 / torch.pow(float(base), expo.double()).float()          # fp32 reciprocal
    if yarn is not None:
        factor, orig, beta_fast, beta_slow = yarn

        def corr_dim(n_rot):
            return rd * math.log(orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), rd - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(rd // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        smooth = 1 - ramp
        freqs = freqs / factor * (1 - smooth) + freqs * smooth
    return freqs


def rope_tail(x, pos, freqs, inverse=False):
    """Rotate interleaved pairs of the last 2*len(freqs) dims of x by fp32(pos*freq) (-angle when
    inverse).  x [S, ..., d] bf16 values, pos [S] int -> bf16 values (other dims untouched)."""
    rd = 2 * freqs.numel()
    ang = pos.to(torch.float32)[:, None] * freqs[None, :]           # [S, rd/2] fp32
    shape = (ang.shape[0],) + (1,) * (x.dim() - 2) + (ang.shape[1],)
    c, s = (t.view(shape) for t in cos_sin32(ang))
    a, b = x[..., -rd::2], x[..., -rd + 1::2]
    if inverse:
        re, im = a * c + b * s, b * c - a * s
    else:
        re, im = a * c - b * s, a * s + b * c
    rot = bf16(torch.stack([re, im], -1).flatten(-2))
    return torch.cat([x[..., :-rd], rot], -1)


_HADAMARD = {}


def hadamard(x):
    """Sylvester Walsh-Hadamard along the last dim n (power of two), scaled by n^-0.5:
    fp32 sum, fp32 scale, one rounding to bf16.  x [..., n] -> [..., n]"""
    n = x.shape[-1]
    if n not in _HADAMARD:
        h = torch.ones(1, 1, dtype=torch.float64)
        while h.shape[0] < n:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        assert h.shape[0] == n, "Hadamard size must be a power of two"
        _HADAMARD[n] = h
    y = matmul(x, _HADAMARD[n])
    return bf16(y * f32c(n ** -0.5))


# ==============================================================================================
# sparse attention with sink (§6.9)
# ==============================================================================================


def sparse_attn(q, kv, sink, idx, scale):
    """q [S, H, d], kv [R, d] (bf16 values), sink [H] fp32, idx [S, T] rows of kv (-1 = none)
    -> o [S, H, d] bf16 values.
    Mirrors the official kernel: online softmax over blocks of 64 indices; scores fp32 * scale;
    probabilities exp(z - running max) rounded to bf16 before P·V (fp32 accumulation); the
    denominator sums the unrounded fp32 exps; the sink enters only the denominator."""
    S, H, d = q.shape
    acc = torch.zeros(S, H, d)
    m = torch.full((S, H), NEG_INF)
    l = torch.zeros(S, H)
    for b0 in range(0, idx.shape[1], ATTN_BLOCK):
        ids = idx[:, b0:b0 + ATTN_BLOCK]                            # [S, B]
        valid = ids >= 0
        kvb = kv[ids.clamp(min=0)]                                  # [S, B, d]
        z = matmul(q, kvb.transpose(1, 2)) * f32c(scale)           # [S, H, B]
        z = z.masked_fill(~valid[:, None, :], NEG_INF)
        m_new = torch.maximum(m, z.amax(-1))
        alpha = exp32(m - m_new)                                # 0 on the first block
        p = exp32(z - m_new[..., None])
        l = l * alpha + sum32(p, -1)
        acc = acc * alpha[..., None] + matmul(bf16(p), kvb)
        m = m_new
    l = l + exp32(sink[None, :] - m)
    return bf16(acc / l[..., None])


def window_idxs_prefill(S, W):
    """[S, min(S, W)] raw positions seen by each prefill query, oldest first (-1 = none)."""
    t = torch.arange(S)[:, None]
    pos = (t - W + 1).clamp(min=0) + torch.arange(min(S, W))[None, :]
    return torch.where(pos > t, -1, pos)


def window_idxs_decode(p, W):
    """[1, W] ring slots seen by a decode query at position p, oldest first (-1 = empty)."""
    if p >= W - 1:
        slots = [(p + 1 + i) % W for i in range(W)]
    else:
        slots = list(range(p + 1)) + [-1] * (W - p - 1)
    return torch.tensor([slots])


def compressed_idxs_prefill(S, ratio, offset):
    """[S, S//ratio] compressed entries for HCA prefill queries: j visible iff j < (t+1)//ratio."""
    j = torch.arange(S // ratio)[None, :]
    visible = (torch.arange(S)[:, None] + 1) // ratio
    return torch.where(j >= visible, -1, j + offset)


# ==============================================================================================
# compressor (§6.6) and indexer (§6.7)
# ==============================================================================================


class CompressorState:
    """Per-sequence compressor state.  kv/score: [coff*ratio, coff*d] fp32 rows (overlap: rows
    0..r-1 = previous block, r..2r-1 = current block); cache: [n_entries, d] emitted entries."""

    def __init__(self, ratio, coff, d):
        self.kv = torch.zeros(coff * ratio, coff * d)
        self.score = torch.full((coff * ratio, coff * d), NEG_INF)
        self.cache = torch.zeros(0, d)


def softmax_pool(kv, score):
    """kv, score [n, c, w] fp32 -> [n, w]: per channel softmax over the c candidates, weighted sum."""
    e = exp32(score - score.amax(1, keepdim=True))
    w = e / sum32(e, 1, True)
    return sum32(kv * w, 1)


class Compressor:
    """Gated pooling of `ratio` consecutive tokens into one entry of width d.  ratio 4 overlaps:
    entry j pools block j-1's first-half channels with block j's second-half channels."""

    def __init__(self, model, prefix, ratio, d, freqs, rotate):
        cfg = model.cfg
        self.model, self.ratio, self.d, self.freqs, self.rotate = model, ratio, d, freqs, rotate
        self.overlap = ratio == 4
        self.coff = 2 if self.overlap else 1
        self.rd = cfg.rope_dim
        self.wkv = Linear(model, prefix + "wkv", fp32=True)          # [coff*d, D]
        self.wgate = Linear(model, prefix + "wgate", fp32=True)      # [coff*d, D]
        self.ape = model.take(prefix + "ape").values().float()      # [ratio, coff*d]
        self.norm = model.take(prefix + "norm.weight").values().float()
        assert self.ape.shape == (ratio, self.coff * d) and self.wkv.N == self.coff * d, prefix

    def new_state(self):
        return CompressorState(self.ratio, self.coff, self.d)

    def __call__(self, x, st, start_pos):
        """x [S, D] bf16 values at positions start_pos.. -> new entries [n, d] (appended to
        st.cache) or None when no block closed."""
        r, d = self.ratio, self.d
        kv, score = self.wkv(x), self.wgate(x)                       # [S, coff*d] fp32
        if start_pos == 0:
            S = x.shape[0]
            cut = S - S % r
            if self.overlap and cut >= r:                            # previous block for decode
                st.kv[:r] = kv[cut - r:cut]
                st.score[:r] = score[cut - r:cut] + self.ape
            off = r if self.overlap else 0                           # partial current block
            st.kv[off:off + S - cut] = kv[cut:]
            st.score[off:off + S - cut] = score[cut:] + self.ape[:S - cut]
            if cut == 0:
                return None
            kvb = kv[:cut].view(cut // r, r, -1)                    # [nb, r, coff*d]
            sb = score[:cut].view(cut // r, r, -1) + self.ape
            if self.overlap:
                kvb, sb = self._overlap(kvb, 0.0), self._overlap(sb, NEG_INF)
            e = softmax_pool(kvb, sb)                                # [nb, d]
            pos = torch.arange(cut // r) * r
        else:
            p = start_pos
            row = (r if self.overlap else 0) + p % r
            st.kv[row] = kv[0]
            st.score[row] = score[0] + self.ape[p % r]
            if (p + 1) % r:
                return None
            if self.overlap:
                kvc = torch.cat([st.kv[:r, :d], st.kv[r:, d:]])      # [2r, d]
                sc = torch.cat([st.score[:r, :d], st.score[r:, d:]])
                e = softmax_pool(kvc[None], sc[None])
                st.kv[:r], st.score[:r] = st.kv[r:].clone(), st.score[r:].clone()
            else:
                e = softmax_pool(st.kv[None], st.score[None])
            pos = torch.tensor([p + 1 - r])
        e = rms_norm(bf16(e), self.norm, self.model.cfg.norm_eps)
        e = rope_tail(e, pos, self.freqs)
        if self.rotate:                                              # indexer keys
            e = hadamard(e)
            if self.model.act_quant:
                e = fake_quant(e, 32, "e2m1")
        elif self.model.act_quant:                                   # main KV: Q8_64 on nope dims
            e = torch.cat([fake_quant(e[:, :-self.rd], 64, "e4m3"), e[:, -self.rd:]], 1)
        st.cache = torch.cat([st.cache, e])
        return e

    def _overlap(self, t, fill):
        """[nb, r, 2d] -> [nb, 2r, d]: rows 0..r-1 = block j-1's first half (fill for j = 0),
        rows r..2r-1 = block j's second half."""
        nb, r, d = t.shape[0], self.ratio, self.d
        out = torch.full((nb, 2 * r, d), fill)
        out[:, r:] = t[:, :, d:]
        out[1:, :r] = t[:-1, :, :d]
        return out


class Indexer:
    """Lightning indexer of CSA layers: picks the top-k compressed entries per query."""

    def __init__(self, model, prefix, freqs):
        cfg = model.cfg
        self.model, self.freqs = model, freqs
        self.n_heads, self.head_dim, self.topk = cfg.index_n_heads, cfg.index_head_dim, cfg.index_topk
        self.wq_b = Linear(model, prefix + "wq_b")                   # [HI*dI, q_r]
        self.weights_proj = Linear(model, prefix + "weights_proj")   # [HI, D]
        self.compressor = Compressor(model, prefix + "compressor.", 4, self.head_dim, freqs, True)
        assert self.wq_b.N == self.n_heads * self.head_dim and self.weights_proj.N == self.n_heads

    def __call__(self, x, qr, st, start_pos, offset):
        """x [S, D], qr [S, q_r] (bf16 values) -> [S, k] kv rows of the selected compressed
        entries (entry j -> j + offset), -1 = none."""
        S = x.shape[0]
        pos = start_pos + torch.arange(S)
        q = self.wq_b(qr).view(S, self.n_heads, self.head_dim)      # [S, HI, dI]
        q = hadamard(rope_tail(q, pos, self.freqs))
        if self.model.act_quant:
            q = fake_quant(q, 32, "e2m1")
        self.compressor(x, st, start_pos)
        c = self.head_dim ** -0.5 * self.n_heads ** -0.5
        w = bf16(self.weights_proj(x) * f32c(c))                    # [S, HI]
        n_vis = (start_pos + S) // 4
        keys = st.cache[:n_vis]                                      # [T, dI]
        sc = bf16(mm(q, keys))                                       # [S, HI, T]
        sc = bf16(torch.relu(sc) * w[..., None])
        sc = bf16(sum32(sc, 1))                                     # [S, T]
        k = min(self.topk, n_vis)
        if start_pos == 0:
            visible = (torch.arange(S)[:, None] + 1) // 4
            sc = sc.masked_fill(torch.arange(n_vis)[None, :] >= visible, NEG_INF)
            top = topk_desc(sc, k)
            top = torch.where(top >= visible, -1, top)
        else:
            visible = torch.tensor([[n_vis]])
            top = topk_desc(sc, k)
        self.model.note("indexer", (visible.view(-1), top))
        return torch.where(top >= 0, top + offset, -1)


# ==============================================================================================
# attention (§6)
# ==============================================================================================


class AttnState:
    def __init__(self, attn):
        self.window = torch.zeros(attn.window, attn.head_dim)       # ring: slot = position % W
        self.comp = attn.compressor.new_state() if attn.ratio else None
        self.index = attn.indexer.compressor.new_state() if attn.ratio == 4 else None


class Attention:
    def __init__(self, model, prefix, ratio):
        cfg = model.cfg
        self.model, self.ratio = model, ratio
        self.n_heads, self.head_dim, self.rd = cfg.n_heads, cfg.head_dim, cfg.rope_dim
        self.groups, self.o_rank, self.window = cfg.o_groups, cfg.o_lora_rank, cfg.window
        self.eps = cfg.norm_eps
        if ratio:
            yarn = None
            if cfg.original_seq_len > 0:
                yarn = (cfg.rope_factor, cfg.original_seq_len, cfg.beta_fast, cfg.beta_slow)
            self.freqs = rope_freqs(self.rd, cfg.compress_rope_theta, yarn)
        else:
            self.freqs = rope_freqs(self.rd, cfg.rope_theta)
        self.wq_a = Linear(model, prefix + "wq_a")                  # [q_r, D]
        self.q_norm = model.take(prefix + "q_norm.weight").values().float()
        self.wq_b = Linear(model, prefix + "wq_b")                  # [H*d, q_r]
        self.wkv = Linear(model, prefix + "wkv")                    # [d, D]
        self.kv_norm = model.take(prefix + "kv_norm.weight").values().float()
        wo_a = Linear(model, prefix + "wo_a")                       # [G*o_r, H*d/G]
        self.wo_a = bf16(wo_a.w).view(self.groups, self.o_rank, -1)  # dequantised at load (exact)
        self.wo_b = Linear(model, prefix + "wo_b")                  # [D, G*o_r]
        self.sink = model.take(prefix + "attn_sink").values().float()   # [H]
        assert self.wq_b.N == self.n_heads * self.head_dim and self.wkv.N == self.head_dim
        assert self.wo_a.shape[2] * self.groups == self.n_heads * self.head_dim
        self.compressor = self.indexer = None
        if ratio:
            self.compressor = Compressor(model, prefix + "compressor.", ratio, self.head_dim,
                                         self.freqs, False)
        if ratio == 4:
            self.indexer = Indexer(model, prefix + "indexer.", self.freqs)

    def __call__(self, x, st, start_pos):
        """x [S, D] bf16 values at positions start_pos.. (start_pos 0: prefill; else S == 1)."""
        S, H, d, rd, W = x.shape[0], self.n_heads, self.head_dim, self.rd, self.window
        pos = start_pos + torch.arange(S)
        qr = rms_norm(self.wq_a(x), self.q_norm, self.eps)          # [S, q_r]
        q = self.wq_b(qr).view(S, H, d)                              # [S, H, d]
        # per-head RMS rescale in bf16 tensor arithmetic (§6.2.3)
        r = bf16(rsqrt32(bf16(bf16(mean32(bf16(q * q))) + f32c(self.eps))))
        q = rope_tail(bf16(q * r), pos, self.freqs)
        kv = rope_tail(rms_norm(self.wkv(x), self.kv_norm, self.eps), pos, self.freqs)   # [S, d]
        if self.model.act_quant:
            kv = torch.cat([fake_quant(kv[:, :-rd], 64, "e4m3"), kv[:, -rd:]], 1)

        # index lists: [window part | compressed part], rows of [raw or ring | compressed]
        if start_pos == 0:
            win_idx, offset = window_idxs_prefill(S, W), S
        else:
            assert S == 1, "decode takes one token at a time"
            win_idx, offset = window_idxs_decode(start_pos, W), W
        comp_idx = torch.zeros(S, 0, dtype=torch.long)
        if self.ratio == 4:
            comp_idx = self.indexer(x, qr, st.index, start_pos, offset)
        elif self.ratio:
            if start_pos == 0:
                comp_idx = compressed_idxs_prefill(S, self.ratio, offset)
            else:
                comp_idx = (torch.arange((start_pos + 1) // self.ratio) + offset)[None, :]
        idx = torch.cat([win_idx, comp_idx], 1)

        if start_pos == 0:
            keep = min(S, W)
            st.window[(pos[-keep:] % W)] = kv[-keep:]
            if self.ratio:
                self.compressor(x, st.comp, 0)
                kv_all = torch.cat([kv, st.comp.cache])
            else:
                kv_all = kv
        else:
            st.window[start_pos % W] = kv[0]
            if self.ratio:
                self.compressor(x, st.comp, start_pos)
                kv_all = torch.cat([st.window, st.comp.cache])
            else:
                kv_all = st.window
        o = sparse_attn(q, kv_all, self.sink, idx, d ** -0.5)       # [S, H, d]
        o = rope_tail(o, pos, self.freqs, inverse=True)
        o = o.view(S, self.groups, -1)                               # [S, G, H*d/G]
        u = bf16(torch.stack([mm(o[:, g], self.wo_a[g]) for g in range(self.groups)], 1))
        return self.wo_b(u.reshape(S, -1))                           # [S, D]


# ==============================================================================================
# mixture of experts (§7)
# ==============================================================================================


class Expert:
    def __init__(self, model, prefix, limit):
        self.w1 = Linear(model, prefix + "w1")                      # gate [I, D]
        self.w2 = Linear(model, prefix + "w2")                      # down [D, I]
        self.w3 = Linear(model, prefix + "w3")                      # up   [I, D]
        self.model, self.limit = model, limit

    def __call__(self, x, weight=None):
        """x [n, D] bf16 values, weight [n, 1] fp32 routing weight -> [n, D] bf16 values."""
        gate, up = self.w1(x), self.w3(x)
        if self.limit > 0:
            n_clamped = int((gate > self.limit).sum() + (up.abs() > self.limit).sum())
            self.model.note("swiglu_clamped", (n_clamped, 2 * gate.numel()))
            up = torch.clamp(up, -self.limit, self.limit)
            gate = torch.clamp(gate, max=self.limit)
        h = silu32(gate) * up                                        # fp32
        if weight is not None:
            h = weight * h
        return self.w2(bf16(h))


class MoE:
    def __init__(self, model, prefix, is_hash):
        cfg = model.cfg
        self.cfg, self.is_hash = cfg, is_hash
        self.gate = Linear(model, prefix + "gate", fp32=True)       # [E, D]
        if is_hash:
            self.tid2eid = model.take(prefix + "gate.tid2eid").values().long()   # [V, k]
            assert self.tid2eid.shape == (cfg.vocab_size, cfg.n_act)
        else:
            self.bias = model.take(prefix + "gate.bias").values().float()        # [E]
        self.experts = [Expert(model, f"{prefix}experts.{e}.", cfg.swiglu_limit)
                        for e in range(cfg.n_routed_experts)]
        self.shared = Expert(model, prefix + "shared_experts.", cfg.swiglu_limit)

    def route(self, x, tokens):
        """x [S, D], tokens [S] -> weights [S, k] fp32, ids [S, k]."""
        scores = softplus32(self.gate(x)).sqrt()                    # [S, E] fp32
        if self.is_hash:
            ids = self.tid2eid[tokens]
        else:
            ids = topk_desc(scores + self.bias, self.cfg.n_act)
        w = scores.gather(1, ids)
        w = w / sum32(w, -1, True)
        return w * f32c(self.cfg.route_scale), ids

    def __call__(self, x, tokens):
        """x [S, D] bf16 values, tokens [S] -> [S, D] bf16 values."""
        w, ids = self.route(x, tokens)
        y = torch.zeros_like(x)                                      # fp32 accumulator
        for e, expert in enumerate(self.experts):                   # ascending expert id
            rows, slot = torch.where(ids == e)
            if rows.numel():
                y[rows] += expert(x[rows], w[rows, slot, None])
        y = y + self.shared(x)
        return bf16(y)


# ==============================================================================================
# hyper-connections (§4) and blocks (§5)
# ==============================================================================================


def hc_mixes(X, fn, eps):
    """X [S, hc, D] bf16 values, fn [m, hc*D] -> (F x) * rsqrt(mean(x^2) + eps)  [S, m] fp32."""
    x = X.flatten(1)
    return mm(x, fn) * rsqrt32(mean32(x * x) + f32c(eps))


def hc_split_sinkhorn(mixes, scale, base, hc, iters, eps):
    """mixes [S, (2+hc)*hc] -> pre [S, hc], post [S, hc], comb [S, hc(src j), hc(dst k)]."""
    pre = sigmoid32(mixes[:, :hc] * scale[0] + base[:hc]) + f32c(eps)
    post = 2 * sigmoid32(mixes[:, hc:2 * hc] * scale[1] + base[hc:2 * hc])
    comb = mixes[:, 2 * hc:].view(-1, hc, hc) * scale[2] + base[2 * hc:].view(hc, hc)
    comb = exp32(comb - comb.amax(-1, keepdim=True))
    comb = comb / sum32(comb, -1, True) + f32c(eps)                # row softmax + eps
    comb = comb / (sum32(comb, -2, True) + f32c(eps))              # column normalise
    for _ in range(iters - 1):
        comb = comb / (sum32(comb, -1, True) + f32c(eps))
        comb = comb / (sum32(comb, -2, True) + f32c(eps))
    return pre, post, comb


def hc_post(f, X, post, comb):
    """f [S, D], X [S, hc, D] (bf16 values), post [S, hc], comb [S, hc, hc]
    -> X'_k = post_k f + sum_j comb[j, k] X_j  [S, hc, D] bf16 values."""
    mixed = sum32(comb[..., None] * X[:, :, None, :], 1)           # [S, hc(k), D]
    return bf16(post[..., None] * f[:, None, :] + mixed)


def hc_head(X, fn, scale, base, cfg):
    """X [S, hc, D] -> [S, D] bf16 values: sum_j (sigmoid(mix_j*scale + base_j) + hc_eps) X_j."""
    pre = sigmoid32(hc_mixes(X, fn, cfg.norm_eps) * scale + base) + f32c(cfg.hc_eps)
    return bf16(sum32(pre[..., None] * X, 1))


class Block:
    def __init__(self, model, prefix, layer_id, ratio):
        cfg = model.cfg
        self.cfg = cfg
        self.attn = Attention(model, prefix + "attn.", ratio)
        self.ffn = MoE(model, prefix + "ffn.", layer_id < cfg.n_hash_layers)
        self.attn_norm = model.take(prefix + "attn_norm.weight").values().float()
        self.ffn_norm = model.take(prefix + "ffn_norm.weight").values().float()
        self.hc = {}
        for part in ("attn", "ffn"):
            self.hc[part] = tuple(model.take(f"{prefix}hc_{part}_{k}").values().float()
                                  for k in ("fn", "scale", "base"))

    def new_state(self):
        return AttnState(self.attn)

    def _hc_pre(self, X, part):
        fn, scale, base = self.hc[part]
        pre, post, comb = hc_split_sinkhorn(hc_mixes(X, fn, self.cfg.norm_eps), scale, base,
                                            self.cfg.hc_mult, self.cfg.hc_iters, self.cfg.hc_eps)
        return bf16(sum32(pre[..., None] * X, 1)), post, comb

    def __call__(self, X, st, start_pos, tokens):
        """X [S, hc, D] bf16 values, tokens [S] -> [S, hc, D]."""
        y, post, comb = self._hc_pre(X, "attn")
        f = self.attn(rms_norm(y, self.attn_norm, self.cfg.norm_eps), st, start_pos)
        X = hc_post(f, X, post, comb)
        y, post, comb = self._hc_pre(X, "ffn")
        f = self.ffn(rms_norm(y, self.ffn_norm, self.cfg.norm_eps), tokens)
        return hc_post(f, X, post, comb)


# ==============================================================================================
# model
# ==============================================================================================


class Config:
    """The config.json keys of spec §12."""

    def __init__(self, d):
        self.raw = d
        self.vocab_size = d["vocab_size"]
        self.dim = d["hidden_size"]
        self.n_layers = d["num_hidden_layers"]
        self.n_heads = d["num_attention_heads"]
        self.head_dim = d["head_dim"]
        self.rope_dim = d["qk_rope_head_dim"]
        self.q_lora_rank = d["q_lora_rank"]
        self.o_groups = d["o_groups"]
        self.o_lora_rank = d["o_lora_rank"]
        self.window = d["sliding_window"]
        self.n_mtp = d.get("num_nextn_predict_layers", 0)
        ratios = list(d["compress_ratios"])
        assert len(ratios) in (self.n_layers, self.n_layers + self.n_mtp), "compress_ratios length"
        self.compress_ratios = ratios[:self.n_layers]     # MTP blocks are always window-only
        assert all(r in (0, 4) or r > 4 for r in self.compress_ratios)
        self.compress_rope_theta = d["compress_rope_theta"]
        self.rope_theta = d["rope_theta"]
        rs = d.get("rope_scaling") or {}
        self.rope_factor = rs.get("factor", 1.0)
        self.original_seq_len = rs.get("original_max_position_embeddings", 0)
        self.beta_fast = rs.get("beta_fast", 32)
        self.beta_slow = rs.get("beta_slow", 1)
        self.index_n_heads = d["index_n_heads"]
        self.index_head_dim = d["index_head_dim"]
        self.index_topk = d["index_topk"]
        self.n_routed_experts = d["n_routed_experts"]
        assert d.get("n_shared_experts", 1) == 1
        self.n_act = d["num_experts_per_tok"]
        self.moe_inter = d["moe_intermediate_size"]
        self.n_hash_layers = d.get("num_hash_layers", 0)
        self.route_scale = d.get("routed_scaling_factor", 1.0)
        assert d.get("scoring_func", "sqrtsoftplus") == "sqrtsoftplus"
        self.swiglu_limit = d.get("swiglu_limit", 0.0)
        self.hc_mult = d["hc_mult"]
        self.hc_iters = d["hc_sinkhorn_iters"]
        self.hc_eps = d["hc_eps"]
        self.norm_eps = d["rms_norm_eps"]
        self.max_pos = d.get("max_position_embeddings", 0)


class State:
    """Per-sequence state: one AttnState per trunk layer and per MTP block, next positions."""

    def __init__(self, model):
        self.layers = [b.new_state() for b in model.layers]
        self.mtp = [b.new_state() for b in model.mtp]
        self.pos = 0        # next trunk position
        self.mtp_pos = 0    # next MTP position


class MTPBlock(Block):
    def __init__(self, model, prefix, layer_id):
        super().__init__(model, prefix, layer_id, 0)
        self.e_proj = Linear(model, prefix + "e_proj")              # [D, D]
        self.h_proj = Linear(model, prefix + "h_proj")              # [D, D]
        self.enorm = model.take(prefix + "enorm.weight").values().float()
        self.hnorm = model.take(prefix + "hnorm.weight").values().float()
        self.norm = model.take(prefix + "norm.weight").values().float()
        self.head_hc = tuple(model.take(prefix + k).values().float()
                             for k in ("hc_head_fn", "hc_head_scale", "hc_head_base"))


class DSV4:
    """Load a checkpoint directory (config.json + safetensors) and run the forward pass."""

    def __init__(self, model_dir, act_quant=True):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = cfg = Config(json.load(f))
        self.act_quant = act_quant
        self.trace = None   # set to a dict to collect diagnostics (see note())
        self._tensors = read_checkpoint(model_dir)
        self._used = set()
        self.embed = self.take("embed.weight").values().float()     # [V, D]
        self.head_w = Linear(self, "head", fp32=True)               # [V, D]
        self.norm = self.take("norm.weight").values().float()
        self.head_hc = tuple(self.take(k).values().float()
                             for k in ("hc_head_fn", "hc_head_scale", "hc_head_base"))
        self.layers = [Block(self, f"layers.{i}.", i, cfg.compress_ratios[i])
                       for i in range(cfg.n_layers)]
        self.mtp = [MTPBlock(self, f"mtp.{i}.", cfg.n_layers + i) for i in range(cfg.n_mtp)
                    if f"mtp.{i}.e_proj.weight" in self._tensors]
        unused = sorted(set(self._tensors) - self._used)
        assert not unused, f"unused tensors in checkpoint: {unused[:8]}"
        del self._tensors

    def take(self, name):
        assert name in self._tensors, f"missing tensor {name}"
        self._used.add(name)
        return self._tensors[name]

    def new_state(self):
        return State(self)

    def note(self, key, value):
        """Diagnostics hook: appends value to self.trace[key] when tracing is on."""
        if self.trace is not None:
            self.trace.setdefault(key, []).append(value)

    # --- trunk ----------------------------------------------------------------------------

    def hidden(self, tokens, st):
        """Run the trunk on tokens (list/tensor [S]) at positions st.pos.. (prefill from 0, or one
        decode token).  -> H [S, hc, D] bf16 values: HC state after the last block."""
        tokens = torch.as_tensor(tokens, dtype=torch.long).view(-1)
        S = tokens.numel()
        assert st.pos == 0 or S == 1, "prefill must start at position 0; decode one token"
        X = self.embed[tokens][:, None, :].repeat(1, self.cfg.hc_mult, 1)   # [S, hc, D]
        for blk, ls in zip(self.layers, st.layers):
            X = blk(X, ls, st.pos, tokens)
        st.pos += S
        return X

    def logits(self, H):
        """H [S, hc, D] -> logits [S, V] fp32 (HC head, final norm, fp32 lm head)."""
        h = hc_head(H, *self.head_hc, self.cfg)
        return self.head_w(rms_norm(h, self.norm, self.cfg.norm_eps))

    def forward(self, tokens, st):
        """-> (logits [S, V], H [S, hc, D])."""
        H = self.hidden(tokens, st)
        return self.logits(H), H

    # --- MTP (§9) ---------------------------------------------------------------------------

    def mtp_logits(self, H, next_tokens, st, depth=0):
        """MTP logits for pairs (H_p, t_{p+1}) at MTP positions st.mtp_pos.. (run like a layer
        over the sequence of pairs: a prefill from 0, then one pair at a time).
        H [S, hc, D] trunk HC states, next_tokens [S] -> [S, V] fp32."""
        blk, bs = self.mtp[depth], st.mtp[depth]
        next_tokens = torch.as_tensor(next_tokens, dtype=torch.long).view(-1)
        S = next_tokens.numel()
        assert H.shape[0] == S and (st.mtp_pos == 0 or S == 1)
        eps = self.cfg.norm_eps
        e = rms_norm(self.embed[next_tokens], blk.enorm, eps)       # [S, D]
        h = rms_norm(H, blk.hnorm, eps)                              # [S, hc, D]
        X = bf16(blk.e_proj(e)[:, None, :] + blk.h_proj(h))          # [S, hc, D]
        X = blk(X, bs, st.mtp_pos, next_tokens)
        st.mtp_pos += S
        h = hc_head(X, *blk.head_hc, self.cfg)
        return self.head_w(rms_norm(h, blk.norm, eps))
