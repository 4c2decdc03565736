"""Numeric primitives of the dsv4 PyTorch reference: reductions, transcendentals, norms and the
quantisation simulations, with the rounding conventions of README.md ("Numerics").

ACCUM selects how reductions and transcendentals are evaluated:
- "f64" (default): exact products, float64 accumulation, one rounding to fp32; transcendentals in
  float64, rounded once.  Order independent, so any implementation can reproduce it.
- "f32": plain fp32 torch/BLAS order and torch's fp32 transcendentals: a second, equally valid
  implementation, used by make_goldens.py to measure the noise floor (*.perturbed.f32).
"""
import torch
import torch.nn.functional as F

from formats import bf16, block_scale, f32c, round_e2m1, round_e4m3



ACCUM = "f64"


def matmul(a, b):
    """a @ b (torch.matmul broadcasting) in fp32: exact products, f64 accumulation, one rounding."""
    if ACCUM == "f32":
        return a.float() @ b.float()
    return (a.double() @ b.double()).float()


def mm(x, w):
    """x [..., K] @ w [N, K]^T -> [..., N] fp32 (a linear layer's product)."""
    return matmul(x, w.t())


def sum32(x, dim, keepdim=False):
    """fp32 result of a sum accumulated in float64."""
    if ACCUM == "f32":
        return x.float().sum(dim, keepdim=keepdim)
    return x.double().sum(dim, keepdim=keepdim).float()


# Elementwise transcendentals: evaluated in float64 on the fp32 input and rounded once to fp32
# (correctly rounded in practice, so any implementation can reproduce them bit for bit); with
# ACCUM == "f32" torch's fp32 implementations are used instead.


def exp32(x):
    return torch.exp(x) if ACCUM == "f32" else torch.exp(x.double()).float()


def rsqrt32(x):
    """fp32(1 / sqrt(double(x)))."""
    return torch.rsqrt(x) if ACCUM == "f32" else (1.0 / torch.sqrt(x.double())).float()


def sigmoid32(x):
    """fp32(1 / (1 + exp(-double(x))))."""
    return torch.sigmoid(x) if ACCUM == "f32" else (1.0 / (1.0 + torch.exp(-x.double()))).float()


def silu32(x):
    """fp32(x / (1 + exp(-x))) in double."""
    if ACCUM == "f32":
        return F.silu(x)
    xd = x.double()
    return (xd / (1.0 + torch.exp(-xd))).float()


def softplus32(x):
    """torch softplus (beta 1, threshold 20): x if x > 20 else log1p(exp(x)), in double."""
    if ACCUM == "f32":
        return F.softplus(x)
    xd = x.double()
    return torch.where(xd > 20, xd, torch.log1p(torch.exp(xd))).float()


def cos_sin32(x):
    if ACCUM == "f32":
        return torch.cos(x), torch.sin(x)
    return torch.cos(x.double()).float(), torch.sin(x.double()).float()


def mean32(x):
    """Mean over the last dim (keepdim) as CUDA computes it: fp32 sum * fp32(1/n)."""
    return sum32(x, -1, True) * f32c(1.0 / x.shape[-1])


def rms_norm(x, w, eps):
    """RMSNorm (§2.6).  x [..., n] bf16 values, w [n] fp32 -> bf16(w * x * rsqrt(mean(x^2)+eps))."""
    var = mean32(x * x)
    return bf16(w * (x * rsqrt32(var + f32c(eps))))


def fake_quant(x, block, fmt):
    """In-place quantisation simulation Q8_B / Q4_B (§2.4).  x [..., n] bf16 values, n % block == 0
    -> bf16(e4m3|e2m1(clamp(x/s)) * s) with a power-of-two scale s per block."""
    xb = x.unflatten(-1, (-1, block))
    s = block_scale(xb.abs().amax(-1, keepdim=True), fmt)
    if fmt == "e4m3":
        q = round_e4m3(torch.clamp(xb / s, -448.0, 448.0))
    else:
        q = round_e2m1(torch.clamp(xb / s, -6.0, 6.0))
    return bf16((q * s).flatten(-2))


def act_quant_fp8(x):
    """Activation quantisation of FP8/FP4 GEMM inputs (§2.5 step 1).
    x [M, K] bf16 values -> qa [M, K] e4m3 values, sa [M, K/128] power-of-two scales."""
    M, K = x.shape
    assert K % 128 == 0, f"FP8 GEMM needs K % 128 == 0 (K = {K})"
    xb = x.view(M, K // 128, 128)
    sa = block_scale(xb.abs().amax(-1), "e4m3")
    qa = round_e4m3(torch.clamp(xb / sa[..., None], -448.0, 448.0))
    return qa.view(M, K), sa


def topk_desc(x, k):
    """Indices of the k largest entries along the last dim, descending; ties -> lowest index."""
    return torch.sort(x, dim=-1, descending=True, stable=True).indices[..., :k]
