"""Differentiable DeepSeek-V4 for training (fp32, full sequences, batched).

The same forward pass as tools/reference/dsv4_ref.py (spec model.md §2-§12), written for
autograd instead of bit-exact inference: fp32 everywhere (no bf16 rounding points, no f64
accumulation), a whole causal sequence at once (the reference's prefill), batch dimension B.
Parameter names are the checkpoint's tensor names (export.py writes them in the official
layout; dsv4_ref.py then loads the result, which is how this file is checked).

Pieces (each mirrors the reference function named in brackets):
- hyper-connections with Sinkhorn [hc_mixes, hc_split_sinkhorn, hc_post, hc_head];
- attention [Attention]: low-rank q, per-head q RMS rescale, single shared KV (key = value),
  partial interleaved RoPE (YaRN on compressed layers), sliding window, attention sink,
  inverse RoPE on the output, grouped low-rank output projection;
- compressor [Compressor] (ratio 4 with overlapping blocks, ratio 128 plain) and the lightning
  indexer [Indexer] with top-k selection (CSA) or all visible entries (HCA);
- MoE [MoE]: sqrt(softplus) scores, hash routing (tid2eid) or top-k of score + bias,
  normalised weights x routed_scaling_factor, clamped SwiGLU experts, shared expert;
- MTP block [DSV4.mtp_logits] on (H_p, t_{p+1}) pairs, predicting t_{p+2}.

Training-only parts:
- The indexer's top-k is not differentiable.  As in DeepSeek-V3.2, the indexer gets its own
  loss: KL(target || softmax(index scores)) over the visible compressed entries, where the
  target is the main attention's distribution over those entries (computed densely, summed
  over heads, renormalised, detached); the indexer's inputs are detached, so this loss trains
  only the indexer and the main loss never flows into it.
- Routing bias (non-hash layers) is updated without gradients (auxiliary-loss-free balancing,
  DeepSeek-V3): bias += rate * sign(mean load - load) after each step.
- Quantisation-aware training (qat=True): straight-through fake quantisation of the weights
  as they are exported (FP8 e4m3 128x128 blocks; FP4 e2m1 per 32 for routed experts) and of the
  activations the reference quantises (FP8 inputs of FP8/FP4 linears per 128, Q8_64 on the
  KV no-rope dims and main compressed entries, Hadamard + Q4_32 on indexer q and keys).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from dsv4_ref import Config, rope_freqs  # noqa: E402
from formats import block_scale, round_e2m1, round_e4m3  # noqa: E402
from numerics import fake_quant  # noqa: E402

torch.set_grad_enabled(True)   # dsv4_ref switches autograd off at import
torch.set_flush_denormal(True)

# ----------------------------------------------------------------------------------------------
# which tensors are stored in which format (the make_checkpoint.py inventory, spec §11.3)
# ----------------------------------------------------------------------------------------------

FP8_SUFFIXES = ("attn.wq_a.weight", "attn.wq_b.weight", "attn.wkv.weight", "attn.wo_a.weight",
                "attn.wo_b.weight", "indexer.wq_b.weight", "e_proj.weight", "h_proj.weight")


def weight_format(name):
    """'fp8' | 'fp4' | 'bf16' | 'f32' | 'i64' for a checkpoint tensor name."""
    if ".experts." in name and name.endswith(".weight"):
        return "fp4"
    if name.endswith(FP8_SUFFIXES) or ".shared_experts." in name:
        return "fp8"
    if name.endswith(("_fn", "_base", "_scale", "attn_sink", ".ape", "gate.bias")):
        return "f32"
    if name.endswith("tid2eid"):
        return "i64"
    return "bf16"


# ----------------------------------------------------------------------------------------------
# straight-through fake quantisation
# ----------------------------------------------------------------------------------------------


def ste(x, q):
    """Forward q (computed without grad), backward identity."""
    return x + (q - x).detach()


@torch.no_grad()
def quant_weight(w, fmt):
    """The dequantised weight export.py will store: fp8 128x128 blocks or fp4 per 32 along K."""
    N, K = w.shape
    if fmt == "fp8":
        nb, kb = (N + 127) // 128, (K + 127) // 128
        pad = w.new_zeros(nb * 128, kb * 128)
        pad[:N, :K] = w
        blocks = pad.view(nb, 128, kb, 128)
        s = block_scale(blocks.abs().amax((1, 3)), "e4m3")[:, None, :, None]
        q = round_e4m3(torch.clamp(blocks / s, -448.0, 448.0)) * s
        return q.view(nb * 128, kb * 128)[:N, :K]
    blocks = w.view(N, K // 32, 32)
    s = block_scale(blocks.abs().amax(-1, keepdim=True), "e2m1")
    return (round_e2m1(torch.clamp(blocks / s, -6.0, 6.0)) * s).view(N, K)


@torch.no_grad()
def quant_act(x, block, fmt):
    return fake_quant(x.contiguous(), block, fmt)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, pos, freqs, inverse=False):
    """x [..., S, (H,) d]: rotate interleaved pairs of the last 2*len(freqs) dims by pos*freq.
    pos [S]; x's sequence dim is dim 1 (x is [B, S, ...])."""
    rd = 2 * freqs.numel()
    ang = pos.float()[:, None] * freqs[None, :]                     # [S, rd/2]
    shape = (1, ang.shape[0]) + (1,) * (x.dim() - 3) + (ang.shape[1],)
    c, s = torch.cos(ang).view(shape), torch.sin(ang).view(shape)
    a, b = x[..., -rd::2], x[..., -rd + 1::2]
    if inverse:
        re, im = a * c + b * s, b * c - a * s
    else:
        re, im = a * c - b * s, a * s + b * c
    return torch.cat([x[..., :-rd], torch.stack([re, im], -1).flatten(-2)], -1)


def hadamard_matrix(n):
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h * n ** -0.5


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------


class DSV4Train(nn.Module):
    def __init__(self, cfg_dict, seed=0):
        super().__init__()
        self.cfg = cfg = Config(cfg_dict)
        self.raw = cfg_dict
        self.qat = False
        g = torch.Generator().manual_seed(seed)
        self.names = []
        D, V, hc = cfg.dim, cfg.vocab_size, cfg.hc_mult
        L = cfg.n_layers
        out_gain = 1.0 / math.sqrt(2 * (L + 1))

        def add(name, t, grad=True):
            p = nn.Parameter(t, requires_grad=grad) if grad else t
            key = name.replace(".", "__")
            if grad:
                self.register_parameter(key, p)
            else:
                self.register_buffer(key, p)
            self.names.append(name)

        def normal(shape, std):
            return torch.randn(*shape, generator=g) * std

        def linear(name, n_out, n_in, gain=1.0):
            add(name + ".weight", normal((n_out, n_in), gain / math.sqrt(n_in)))

        def norm(name, n):
            add(name, torch.ones(n))

        def hc_params(prefix, n_mix, n_scale, comb):
            add(prefix + "_fn", normal((n_mix, hc * D), 0.005))
            base = normal((n_mix,), 0.5)
            if comb:   # favour identity stream mixing at init
                base[2 * hc:] = (2.0 * torch.eye(hc) + 0.1 * torch.randn(hc, hc, generator=g)).flatten()
            add(prefix + "_base", base)
            add(prefix + "_scale", torch.ones(n_scale))

        H, d, qr = cfg.n_heads, cfg.head_dim, cfg.q_lora_rank
        G, orank = cfg.o_groups, cfg.o_lora_rank
        HI, dI = cfg.index_n_heads, cfg.index_head_dim
        E, k, inter = cfg.n_routed_experts, cfg.n_act, cfg.moe_inter
        mix = (2 + hc) * hc

        add("embed.weight", normal((V, D), 1.0))
        linear("head", V, D)
        norm("norm.weight", D)
        hc_params("hc_head", hc, 1, False)

        def block(p, layer_id, ratio, is_hash):
            hc_params(p + "hc_attn", mix, 3, True)
            hc_params(p + "hc_ffn", mix, 3, True)
            norm(p + "attn_norm.weight", D)
            norm(p + "ffn_norm.weight", D)
            a = p + "attn."
            linear(a + "wq_a", qr, D)
            norm(a + "q_norm.weight", qr)
            linear(a + "wq_b", H * d, qr)
            linear(a + "wkv", d, D)
            norm(a + "kv_norm.weight", d)
            linear(a + "wo_a", G * orank, H * d // G)
            linear(a + "wo_b", D, G * orank, out_gain)
            add(a + "attn_sink", torch.zeros(H))
            if ratio:
                coff = 2 if ratio == 4 else 1
                linear(a + "compressor.wkv", coff * d, D)
                linear(a + "compressor.wgate", coff * d, D, 0.1)
                add(a + "compressor.ape", torch.zeros(ratio, coff * d))
                norm(a + "compressor.norm.weight", d)
            if ratio == 4:
                linear(a + "indexer.wq_b", HI * dI, qr)
                linear(a + "indexer.weights_proj", HI, D)
                linear(a + "indexer.compressor.wkv", 2 * dI, D)
                linear(a + "indexer.compressor.wgate", 2 * dI, D, 0.1)
                add(a + "indexer.compressor.ape", torch.zeros(4, 2 * dI))
                norm(a + "indexer.compressor.norm.weight", dI)
            f = p + "ffn."
            linear(f + "gate", E, D)
            if is_hash:
                ids = torch.stack([torch.randperm(E, generator=g)[:k] for _ in range(V)])
                add(f + "gate.tid2eid", ids.long(), grad=False)
            else:
                add(f + "gate.bias", torch.zeros(E), grad=False)
            for e in range(E):
                linear(f"{f}experts.{e}.w1", inter, D)
                linear(f"{f}experts.{e}.w2", D, inter, out_gain)
                linear(f"{f}experts.{e}.w3", inter, D)
            linear(f + "shared_experts.w1", inter, D)
            linear(f + "shared_experts.w2", D, inter, out_gain)
            linear(f + "shared_experts.w3", inter, D)

        for i in range(L):
            block(f"layers.{i}.", i, cfg.compress_ratios[i], i < cfg.n_hash_layers)
        for i in range(cfg.n_mtp):
            p = f"mtp.{i}."
            block(p, L + i, 0, False)
            linear(p + "e_proj", D, D)
            linear(p + "h_proj", D, D)
            norm(p + "enorm.weight", D)
            norm(p + "hnorm.weight", D)
            norm(p + "norm.weight", D)
            hc_params(p + "hc_head", hc, 1, False)

        yarn = None
        if cfg.original_seq_len > 0:
            yarn = (cfg.rope_factor, cfg.original_seq_len, cfg.beta_fast, cfg.beta_slow)
        self.register_buffer("freqs_win", rope_freqs(cfg.rope_dim, cfg.rope_theta), persistent=False)
        self.register_buffer("freqs_comp", rope_freqs(cfg.rope_dim, cfg.compress_rope_theta, yarn),
                             persistent=False)
        self.register_buffer("hadamard", hadamard_matrix(dI), persistent=False)
        self.routing_load = {}    # layer prefix -> expert token counts of the last forward

    # --- parameter access ----------------------------------------------------------------

    def t(self, name):
        return getattr(self, name.replace(".", "__"))

    def state_tensors(self):
        """name -> tensor (checkpoint names)."""
        return {n: self.t(n).detach() for n in self.names}

    def w(self, name):
        """A linear weight as the forward uses it (fake-quantised under QAT)."""
        w = self.t(name + ".weight")
        fmt = weight_format(name + ".weight")
        if self.qat and fmt in ("fp8", "fp4"):
            return ste(w, quant_weight(w.detach(), fmt))
        return w

    def linear(self, x, name):
        fmt = weight_format(name + ".weight")
        if self.qat and fmt in ("fp8", "fp4") and not name.endswith("wo_a"):
            x = ste(x, quant_act(x.detach(), 128, "e4m3"))
        return x @ self.w(name).t()

    # --- hyper-connections ----------------------------------------------------------------

    def hc_mixes(self, X, fn):
        x = X.flatten(-2)
        return (x @ fn.t()) * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.norm_eps)

    def hc_pre(self, X, prefix):
        cfg, hc = self.cfg, self.cfg.hc_mult
        fn, scale, base = (self.t(prefix + s) for s in ("_fn", "_scale", "_base"))
        m = self.hc_mixes(X, fn)
        pre = torch.sigmoid(m[..., :hc] * scale[0] + base[:hc]) + cfg.hc_eps
        post = 2 * torch.sigmoid(m[..., hc:2 * hc] * scale[1] + base[hc:2 * hc])
        comb = m[..., 2 * hc:].unflatten(-1, (hc, hc)) * scale[2] + base[2 * hc:].view(hc, hc)
        comb = torch.softmax(comb, -1) + cfg.hc_eps
        comb = comb / (comb.sum(-2, keepdim=True) + cfg.hc_eps)
        for _ in range(cfg.hc_iters - 1):
            comb = comb / (comb.sum(-1, keepdim=True) + cfg.hc_eps)
            comb = comb / (comb.sum(-2, keepdim=True) + cfg.hc_eps)
        y = (pre[..., None] * X).sum(-2)
        return y, post, comb

    @staticmethod
    def hc_post(f, X, post, comb):
        return post[..., None] * f[..., None, :] + torch.einsum("bsjk,bsjd->bskd", comb, X)

    def hc_head(self, X, prefix):
        fn, scale, base = (self.t(prefix + s) for s in ("_fn", "_scale", "_base"))
        pre = torch.sigmoid(self.hc_mixes(X, fn) * scale + base) + self.cfg.hc_eps
        return (pre[..., None] * X).sum(-2)

    # --- compressor / indexer ---------------------------------------------------------------

    def compress(self, x, prefix, ratio, d, freqs, rotate):
        """x [B, S, D] -> entries [B, S // ratio, d] (entry j at position j * ratio)."""
        B, S, _ = x.shape
        r = ratio
        nb = S // r
        kv = x[:, :nb * r] @ self.t(prefix + "wkv.weight").t()
        score = x[:, :nb * r] @ self.t(prefix + "wgate.weight").t()
        kv = kv.view(B, nb, r, -1)
        score = score.view(B, nb, r, -1) + self.t(prefix + "ape")
        if r == 4:     # entry j: block j-1's first-half channels + block j's second half
            kv = torch.cat([F.pad(kv[:, :-1, :, :d], (0, 0, 0, 0, 1, 0)), kv[:, :, :, d:]], 2)
            prev = score[:, :-1, :, :d]
            prev = torch.cat([torch.full_like(score[:, :1, :, :d], float("-inf")), prev], 1)
            score = torch.cat([prev, score[:, :, :, d:]], 2)
        e = (kv * torch.softmax(score, 2)).sum(2)                         # [B, nb, d]
        e = rms_norm(e, self.t(prefix + "norm.weight"), self.cfg.norm_eps)
        e = rope(e, torch.arange(nb) * r, freqs)
        if rotate:
            e = e @ self.hadamard
            if self.qat:
                e = ste(e, quant_act(e.detach(), 32, "e2m1"))
        elif self.qat:
            rd = self.cfg.rope_dim
            e = torch.cat([ste(e[..., :-rd], quant_act(e[..., :-rd].detach(), 64, "e4m3")),
                           e[..., -rd:]], -1)
        return e

    def indexer_scores(self, x, qr, prefix, pos):
        """-> index scores [B, S, n] over the indexer's compressed keys."""
        cfg = self.cfg
        B, S, _ = x.shape
        HI, dI = cfg.index_n_heads, cfg.index_head_dim
        q = self.linear(qr, prefix + "wq_b").view(B, S, HI, dI)
        q = rope(q, pos, self.freqs_comp) @ self.hadamard
        if self.qat:
            q = ste(q, quant_act(q.detach(), 32, "e2m1"))
        keys = self.compress(x, prefix + "compressor.", 4, dI, self.freqs_comp, True)   # [B, n, dI]
        w = (x @ self.t(prefix + "weights_proj.weight").t()) * (dI ** -0.5 * HI ** -0.5)
        s = torch.relu(torch.einsum("bshd,bnd->bshn", q, keys))
        return (s * w[..., None]).sum(2)                                  # [B, S, n]

    # --- attention -------------------------------------------------------------------------

    def attention(self, x, prefix, ratio, aux):
        cfg = self.cfg
        B, S, _ = x.shape
        H, d, rd, W = cfg.n_heads, cfg.head_dim, cfg.rope_dim, cfg.window
        freqs = self.freqs_comp if ratio else self.freqs_win
        pos = torch.arange(S)
        qr = rms_norm(self.linear(x, prefix + "wq_a"), self.t(prefix + "q_norm.weight"), cfg.norm_eps)
        q = self.linear(qr, prefix + "wq_b").view(B, S, H, d)
        q = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + cfg.norm_eps)
        q = rope(q, pos, freqs)
        kv = rms_norm(self.linear(x, prefix + "wkv"), self.t(prefix + "kv_norm.weight"), cfg.norm_eps)
        kv = rope(kv, pos, freqs)
        if self.qat:
            kv = torch.cat([ste(kv[..., :-rd], quant_act(kv[..., :-rd].detach(), 64, "e4m3")),
                            kv[..., -rd:]], -1)
        scale = d ** -0.5
        qh = q.transpose(1, 2)                                            # [B, H, S, d]
        # sliding window, blocked: query chunk c (W rows) sees key chunks c-1 and c
        nc = (S + W - 1) // W
        Sp = nc * W
        kvp = F.pad(kv, (0, 0, W, Sp - S))                                # [B, W + Sp, d]
        keys = torch.cat([kvp[:, :-W].view(B, nc, W, d), kvp[:, W:].view(B, nc, W, d)], 2)
        qc = F.pad(qh, (0, 0, 0, Sp - S)).view(B, H, nc, W, d)
        z_win = (qc @ keys[:, None].transpose(-1, -2)) * scale            # [B, H, nc, W, 2W]
        rel = torch.arange(2 * W)[None, :] - W - torch.arange(W)[:, None]  # key pos - query pos
        kpos = (torch.arange(nc) * W - W)[:, None, None] + torch.arange(2 * W)[None, None, :]
        win_ok = (rel <= 0) & (rel > -W) & (kpos >= 0)                    # [nc, W, 2W]
        z_win = z_win.masked_fill(~win_ok, float("-inf")).view(B, H, Sp, 2 * W)[:, :, :S]
        parts = [z_win]
        comp = None
        if ratio:
            comp = self.compress(x, prefix + "compressor.", ratio, d, freqs, False)   # [B, n, d]
            n = comp.shape[1]
            z_c = (qh @ comp[:, None].transpose(-1, -2)) * scale          # [B, H, S, n]
            visible = torch.arange(n)[None, :] < ((pos + 1) // ratio)[:, None]    # [S, n]
            if ratio == 4:
                idx_s = self.indexer_scores(x.detach(), qr.detach(), prefix + "indexer.", pos)
                idx_s = idx_s.masked_fill(~visible, float("-inf"))
                k = min(cfg.index_topk, n)
                top = idx_s.detach().topk(k, -1).indices
                sel = torch.zeros(B, S, n, dtype=torch.bool).scatter_(-1, top, True) & visible
                aux.append(self.indexer_kl(z_c.detach(), idx_s, visible))
                allowed = sel[:, None]
            else:
                allowed = visible
            parts.append(z_c.masked_fill(~allowed, float("-inf")))
        sink = self.t(prefix + "attn_sink").view(1, H, 1, 1).expand(B, H, S, 1)
        p = torch.softmax(torch.cat(parts + [sink], -1), -1)
        pw = F.pad(p[..., :2 * W], (0, 0, 0, Sp - S)).view(B, H, nc, W, 2 * W)
        o = (pw @ keys[:, None]).view(B, H, Sp, d)[:, :, :S]
        if ratio:
            o = o + p[..., 2 * W:-1] @ comp[:, None]
        o = rope(o.transpose(1, 2), pos, freqs, inverse=True)             # [B, S, H, d]
        G = cfg.o_groups
        wo_a = self.w(prefix + "wo_a").view(G, cfg.o_lora_rank, -1)
        u = torch.einsum("bsgk,grk->bsgr", o.reshape(B, S, G, -1), wo_a)
        return self.linear(u.flatten(-2), prefix + "wo_b")

    @staticmethod
    def indexer_kl(z_c, idx_s, visible):
        """KL(main attention over visible compressed entries, summed over heads || indexer)."""
        z = z_c.masked_fill(~visible, float("-inf"))
        rows = visible.any(-1)                                            # [S]
        if not rows.any():
            return z_c.new_zeros(())
        target = torch.softmax(z[:, :, rows], -1).sum(1)                  # [B, S', n]
        target = target / target.sum(-1, keepdim=True)
        logq = torch.log_softmax(idx_s[:, rows], -1)
        kl = (target * (torch.log(target.clamp_min(1e-12)) - logq.clamp_min(-1e4)))
        return kl.masked_fill(~visible[rows], 0).sum(-1).mean()

    # --- MoE -------------------------------------------------------------------------------

    def expert(self, x, prefix, weight=None):
        gate, up = self.linear(x, prefix + "w1"), self.linear(x, prefix + "w3")
        lim = self.cfg.swiglu_limit
        if lim > 0:
            up = torch.clamp(up, -lim, lim)
            gate = torch.clamp(gate, max=lim)
        h = F.silu(gate) * up
        if weight is not None:
            h = h * weight
        return self.linear(h, prefix + "w2")

    def moe(self, x, prefix, tokens):
        cfg = self.cfg
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        tok = tokens.reshape(-1)
        scores = torch.sqrt(F.softplus(x @ self.t(prefix + "gate.weight").t()))      # [N, E]
        if prefix + "gate.tid2eid" in self.names:
            ids = self.t(prefix + "gate.tid2eid")[tok]
        else:
            ids = (scores.detach() + self.t(prefix + "gate.bias")).topk(cfg.n_act, -1).indices
            self.routing_load[prefix] = torch.bincount(ids.flatten(), minlength=cfg.n_routed_experts)
        w = scores.gather(1, ids)
        w = w / w.sum(-1, keepdim=True) * cfg.route_scale
        y = self.expert(x, prefix + "shared_experts.")
        for e in range(cfg.n_routed_experts):
            rows, slot = torch.where(ids == e)
            if rows.numel():
                y = y.index_add(0, rows, self.expert(x[rows], f"{prefix}experts.{e}.", w[rows, slot, None]))
        return y.view(shape)

    @torch.no_grad()
    def update_routing_bias(self, rate):
        for prefix, load in self.routing_load.items():
            b = self.t(prefix + "gate.bias")
            b += rate * torch.sign(load.float().mean() - load.float())
        self.routing_load = {}

    # --- blocks and heads ------------------------------------------------------------------

    def block(self, X, prefix, ratio, tokens, aux):
        eps = self.cfg.norm_eps
        y, post, comb = self.hc_pre(X, prefix + "hc_attn")
        f = self.attention(rms_norm(y, self.t(prefix + "attn_norm.weight"), eps), prefix + "attn.", ratio, aux)
        X = self.hc_post(f, X, post, comb)
        y, post, comb = self.hc_pre(X, prefix + "hc_ffn")
        f = self.moe(rms_norm(y, self.t(prefix + "ffn_norm.weight"), eps), prefix + "ffn.", tokens)
        return self.hc_post(f, X, post, comb)

    def logits_of(self, X, hc_prefix, norm_name):
        h = self.hc_head(X, hc_prefix)
        return rms_norm(h, self.t(norm_name), self.cfg.norm_eps) @ self.t("head.weight").t()

    def forward(self, tokens, mtp_stride=1):
        """tokens [B, S] -> (logits [B, S, V], mtp logits [B, ceil((S-1)/mtp_stride), V] for
        t_{p+2} at p = 0, mtp_stride, ... (or None), indexer KL terms)."""
        cfg = self.cfg
        aux = []
        X = self.t("embed.weight")[tokens][:, :, None, :].expand(-1, -1, cfg.hc_mult, -1)
        for i in range(cfg.n_layers):
            X = self.block(X, f"layers.{i}.", cfg.compress_ratios[i], tokens, aux)
        logits = self.logits_of(X, "hc_head", "norm.weight")
        mtp = None
        if cfg.n_mtp:
            p = "mtp.0."
            nxt = tokens[:, 1:]
            e = rms_norm(self.t("embed.weight")[nxt], self.t(p + "enorm.weight"), cfg.norm_eps)
            h = rms_norm(X[:, :-1], self.t(p + "hnorm.weight"), cfg.norm_eps)
            Xm = self.linear(e, p + "e_proj")[:, :, None, :] + self.linear(h, p + "h_proj")
            Xm = self.block(Xm, p, 0, nxt, aux)
            mtp = self.logits_of(Xm[:, ::mtp_stride], p + "hc_head", p + "norm.weight")
        return logits, mtp, aux
