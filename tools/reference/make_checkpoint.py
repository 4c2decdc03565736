"""Write tiny random DeepSeek-V4 checkpoints in the official Hugging Face layout (spec §11).

    /usr/bin/python3 tools/reference/make_checkpoint.py --preset tiny-fp8 --out DIR

Tensor names and dtypes follow the inventory of spec §11.3 (no `model.` prefix).  Presets:
- tiny-bf16:   every linear BF16 (routed experts too), other tensors as in the inventory.
- tiny-fp8:    as shipped: attention projections, indexer wq_b, shared experts, e_proj/h_proj
               FP8 e4m3 + ue8m0 128x128 block scales; routed experts FP4 (I8-packed) + per-32
               ue8m0 scales; 3 shards + model.safetensors.index.json, MTP in the last shard.
- tiny-random: FP8/FP4 as shipped, single model.safetensors (the engine's bundled model).
Weights are drawn from fixed-seed normals ~N(0, 1/sqrt(fan_in)) and then quantised.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formats import (RawTensor, block_scale, bf16_bits, encode_e2m1, encode_e4m3,  # noqa: E402
                     encode_e8m0, pack_fp4, round_e2m1, round_e4m3, write_checkpoint)

_COMMON = {
    "architectures": ["DeepseekV4ForCausalLM"],
    "model_type": "deepseek_v4",
    "bos_token_id": 0,
    "eos_token_id": 1,
    "num_key_value_heads": 1,
    "n_shared_experts": 1,
    "scoring_func": "sqrtsoftplus",
    "topk_method": "noaux_tc",
    "norm_topk_prob": True,
    "hidden_act": "silu",
    "hc_mult": 4,
    "hc_sinkhorn_iters": 20,
    "hc_eps": 1e-6,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000,
    "compress_rope_theta": 160000,
    "num_nextn_predict_layers": 1,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}

QUANT_CONFIG = {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                "activation_scheme": "dynamic", "weight_block_size": [128, 128]}

PRESETS = {
    # all linears BF16; 6 layers of all three kinds, 3 hash layers, MTP; compress_ratios has the
    # MTP's trailing 0 (length L+1, like V4-Flash's config.json).  Window + top-k/HCA entries
    # stay <= 64, so every attention index list fits one block of the reference kernel's online
    # softmax and the numerics do not depend on the prefill length (see README).
    "tiny-bf16": dict(
        _COMMON, vocab_size=331, hidden_size=160, num_hidden_layers=6,
        compress_ratios=[0, 0, 4, 128, 4, 128, 0], num_hash_layers=3,
        num_attention_heads=4, head_dim=144, qk_rope_head_dim=16, q_lora_rank=72,
        o_groups=2, o_lora_rank=48, sliding_window=24,
        index_n_heads=6, index_head_dim=64, index_topk=6,
        n_routed_experts=6, num_experts_per_tok=3, moe_intermediate_size=48,
        routed_scaling_factor=1.5, swiglu_limit=2.0, max_position_embeddings=4096,
        rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 256,
                      "beta_fast": 32, "beta_slow": 1},
        _quant="bf16", _shards=1, _seed=1001),
    # shipped formats; every K reaching an FP8/FP4 GEMM is a multiple of 128; compress_ratios
    # has length L (no MTP entry); odd sliding window; index_head_dim 128 (non-exact 128^-0.5).
    "tiny-fp8": dict(
        _COMMON, vocab_size=293, hidden_size=256, num_hidden_layers=5,
        compress_ratios=[0, 4, 128, 4, 128], num_hash_layers=2,
        num_attention_heads=4, head_dim=160, qk_rope_head_dim=32, q_lora_rank=128,
        o_groups=2, o_lora_rank=64, sliding_window=19,
        index_n_heads=5, index_head_dim=128, index_topk=5,
        n_routed_experts=5, num_experts_per_tok=2, moe_intermediate_size=128,
        routed_scaling_factor=2.5, swiglu_limit=1.5, max_position_embeddings=4096,
        rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 256,
                      "beta_fast": 32, "beta_slow": 1},
        quantization_config=QUANT_CONFIG, _quant="fp8", _shards=3, _seed=2002),
    # bundled random model: real head/rope/index dims (rope 64, index 128), FP8/FP4 as shipped.
    "tiny-random": dict(
        _COMMON, vocab_size=2048, hidden_size=128, num_hidden_layers=4,
        compress_ratios=[0, 4, 128, 4, 0], num_hash_layers=1,
        num_attention_heads=2, head_dim=192, qk_rope_head_dim=64, q_lora_rank=128,
        o_groups=2, o_lora_rank=64, sliding_window=32,
        index_n_heads=4, index_head_dim=128, index_topk=8,
        n_routed_experts=6, num_experts_per_tok=2, moe_intermediate_size=128,
        routed_scaling_factor=1.5, swiglu_limit=10.0, max_position_embeddings=65536,
        rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 4096,
                      "beta_fast": 32, "beta_slow": 1},
        quantization_config=QUANT_CONFIG, _quant="fp8", _shards=1, _seed=3003),
}


# ----------------------------------------------------------------------------------------------
# quantisers for weights
# ----------------------------------------------------------------------------------------------


def quantize_fp8_weight(w):
    """w [N, K] fp32 -> (e4m3 codes uint8 [N, K], ue8m0 bytes [ceil(N/128), ceil(K/128)]).
    Per 128x128 block: s = 2^ceil(log2(amax/448)), code = e4m3_rne(w / s)."""
    N, K = w.shape
    nb, kb = (N + 127) // 128, (K + 127) // 128
    pad = torch.zeros(nb * 128, kb * 128)
    pad[:N, :K] = torch.from_numpy(w)
    blocks = pad.view(nb, 128, kb, 128)
    s = block_scale(blocks.abs().amax((1, 3)), "e4m3")             # [nb, kb]
    q = round_e4m3(torch.clamp(blocks / s[:, None, :, None], -448.0, 448.0))
    q = q.view(nb * 128, kb * 128)[:N, :K]
    return encode_e4m3(q.numpy()), encode_e8m0(s.numpy())


def quantize_fp4_weight(w):
    """w [N, K] fp32 (K % 32 == 0) -> (packed int8 [N, K/2], ue8m0 bytes [N, K/32])."""
    N, K = w.shape
    blocks = torch.from_numpy(w).view(N, K // 32, 32)
    s = block_scale(blocks.abs().amax(-1), "e2m1")                 # [N, K/32]
    q = round_e2m1(torch.clamp(blocks / s[..., None], -6.0, 6.0)).view(N, K)
    return pack_fp4(encode_e2m1(q.numpy())), encode_e8m0(s.numpy())


# ----------------------------------------------------------------------------------------------
# tensor inventory
# ----------------------------------------------------------------------------------------------


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.t = {}

    def normal(self, shape, std):
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def bf16(self, name, v):
        self.t[name] = RawTensor("BF16", v.shape, bf16_bits(v))

    def f32(self, name, v):
        self.t[name] = RawTensor("F32", np.shape(v), np.asarray(v, dtype=np.float32))

    def norm(self, name, n):
        self.bf16(name, 1.0 + self.normal((n,), 0.1))

    def linear(self, name, n_out, n_in, fmt, gain=1.0):
        """name.weight [n_out, n_in] ~ N(0, gain/sqrt(n_in)) stored as fmt: bf16 | fp8 | fp4."""
        w = self.normal((n_out, n_in), gain / np.sqrt(n_in))
        if fmt == "bf16":
            self.bf16(name + ".weight", w)
        elif fmt == "fp8":
            # vary the block magnitudes so the 128x128 scales differ
            nb, kb = (n_out + 127) // 128, (n_in + 127) // 128
            mult = 2.0 ** self.rng.uniform(-1, 1, size=(nb, kb)).astype(np.float32)
            w = w * np.repeat(np.repeat(mult, 128, 0), 128, 1)[:n_out, :n_in]
            codes, scale = quantize_fp8_weight(w)
            self.t[name + ".weight"] = RawTensor("F8_E4M3", codes.shape, codes)
            self.t[name + ".scale"] = RawTensor("F8_E8M0", scale.shape, scale)
        elif fmt == "fp4":
            packed, scale = quantize_fp4_weight(w)
            self.t[name + ".weight"] = RawTensor("I8", packed.shape, packed)
            self.t[name + ".scale"] = RawTensor("F8_E8M0", scale.shape, scale)
        else:
            raise ValueError(fmt)

    def hc(self, prefix, n_mix, width, n_scale):
        self.f32(prefix + "_fn", self.normal((n_mix, width), 0.02))
        self.f32(prefix + "_base", self.normal((n_mix,), 1.0))
        self.f32(prefix + "_scale", self.rng.uniform(0.5, 2.0, size=(n_scale,)))


def build_tensors(c):
    """All tensors of a checkpoint for config dict c (with _quant, _seed) -> dict name -> RawTensor."""
    b = Builder(c["_seed"])
    q8 = "fp8" if c["_quant"] == "fp8" else "bf16"      # attention/shared/MTP projections
    q4 = "fp4" if c["_quant"] == "fp8" else "bf16"      # routed experts
    D, V, hc = c["hidden_size"], c["vocab_size"], c["hc_mult"]
    H, d, qr = c["num_attention_heads"], c["head_dim"], c["q_lora_rank"]
    G, orank = c["o_groups"], c["o_lora_rank"]
    HI, dI = c["index_n_heads"], c["index_head_dim"]
    E, k, inter = c["n_routed_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"]
    L, n_mtp = c["num_hidden_layers"], c["num_nextn_predict_layers"]
    mix = (2 + hc) * hc

    b.bf16("embed.weight", b.normal((V, D), 1.0))
    b.bf16("head.weight", b.normal((V, D), 2.0 / np.sqrt(D)))
    b.norm("norm.weight", D)
    b.hc("hc_head", hc, hc * D, 1)

    def block(p, layer_id, ratio, is_hash):
        b.hc(p + "hc_attn", mix, hc * D, 3)
        b.hc(p + "hc_ffn", mix, hc * D, 3)
        b.norm(p + "attn_norm.weight", D)
        b.norm(p + "ffn_norm.weight", D)
        a = p + "attn."
        b.linear(a + "wq_a", qr, D, q8)
        b.norm(a + "q_norm.weight", qr)
        b.linear(a + "wq_b", H * d, qr, q8)
        b.linear(a + "wkv", d, D, q8)
        b.norm(a + "kv_norm.weight", d)
        b.linear(a + "wo_a", G * orank, H * d // G, q8)
        b.linear(a + "wo_b", D, G * orank, q8)
        b.f32(a + "attn_sink", b.normal((H,), 1.0))
        if ratio:
            coff = 2 if ratio == 4 else 1
            b.linear(a + "compressor.wkv", coff * d, D, "bf16")
            b.linear(a + "compressor.wgate", coff * d, D, "bf16")
            b.f32(a + "compressor.ape", b.normal((ratio, coff * d), 0.5))
            b.norm(a + "compressor.norm.weight", d)
        if ratio == 4:
            b.linear(a + "indexer.wq_b", HI * dI, qr, q8)
            b.linear(a + "indexer.weights_proj", HI, D, "bf16")
            b.linear(a + "indexer.compressor.wkv", 2 * dI, D, "bf16")
            b.linear(a + "indexer.compressor.wgate", 2 * dI, D, "bf16")
            b.f32(a + "indexer.compressor.ape", b.normal((4, 2 * dI), 0.5))
            b.norm(a + "indexer.compressor.norm.weight", dI)
        f = p + "ffn."
        b.linear(f + "gate", E, D, "bf16")
        if is_hash:
            ids = np.stack([b.rng.permutation(E)[:k] for _ in range(V)]).astype(np.int64)
            b.t[f + "gate.tid2eid"] = RawTensor("I64", ids.shape, ids)
        else:
            b.f32(f + "gate.bias", b.normal((E,), 0.05))
        for e in range(E):
            b.linear(f"{f}experts.{e}.w1", inter, D, q4)
            b.linear(f"{f}experts.{e}.w2", D, inter, q4)
            b.linear(f"{f}experts.{e}.w3", inter, D, q4)
        b.linear(f + "shared_experts.w1", inter, D, q8)
        b.linear(f + "shared_experts.w2", D, inter, q8)
        b.linear(f + "shared_experts.w3", inter, D, q8)

    ratios = c["compress_ratios"]
    for i in range(L):
        block(f"layers.{i}.", i, ratios[i], i < c["num_hash_layers"])
    for i in range(n_mtp):
        p = f"mtp.{i}."
        block(p, L + i, 0, False)
        b.linear(p + "e_proj", D, D, q8)
        b.linear(p + "h_proj", D, D, q8)
        b.norm(p + "enorm.weight", D)
        b.norm(p + "hnorm.weight", D)
        b.norm(p + "norm.weight", D)
        b.hc(p + "hc_head", hc, hc * D, 1)
    return b.t


def write_model(out_dir, preset):
    """Write config.json + safetensors of a preset (name or dict) into out_dir."""
    c = PRESETS[preset] if isinstance(preset, str) else preset
    tensors = build_tensors(c)
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):                       # drop stale shards
        if f.endswith(".safetensors") or f == "model.safetensors.index.json":
            os.remove(os.path.join(out_dir, f))
    write_checkpoint(out_dir, tensors, n_shards=c["_shards"], last_shard_prefix="mtp.")
    config = {k: v for k, v in c.items() if not k.startswith("_")}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tensors = write_model(args.out, args.preset)
    total = sum(t.nbytes() for t in tensors.values())
    print(f"{args.out}: {len(tensors)} tensors, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
