#!/usr/bin/python3
"""Writes a DeepSeek-V4 checkpoint (official safetensors layout) as a GGUF file for
llama.cpp's `deepseek4` architecture, so that llama.cpp's own benchmark can run the same
model as `dsv4 bench` (bench/llama_cpp/compare.sh).

    to_gguf.py GGUF_PY_DIR CHECKPOINT_DIR TOKENIZER_JSON OUT.gguf

GGUF_PY_DIR is the `gguf-py` directory of the llama.cpp source being benchmarked: the
GGUF keys, tensor names and block layouts come from that version's own Python package, so
the file matches the loader it was written for. Formats follow what llama.cpp's converter
chooses for V4 (its conversion/deepseek.py): FP8 e4m3 weights (128x128 ue8m0 blocks)
become Q8_0 (llama.cpp has no FP8 type; 8.5 bits per weight against 8.06), FP4 experts
become MXFP4 (the same e2m1 codes and per-32 ue8m0 scales, bits only moved), BF16 and F32
stay as they are, the hash layers' tid2eid tables become I32.

Checkpoints are read (memory-mapped) and their formats decoded with the reference's
tools/reference/formats.py (numpy and Debian's torch). Written here rather than with
llama.cpp's convert_hf_to_gguf.py because that needs a torch with float8 dtypes (Debian's is
1.13) and `transformers` for the vocabulary (not packaged);
the benchmark needs the tensors and a vocabulary of the right size, which this writes:
the tokenizer's tokens and merges, then placeholder tokens up to the model's vocab_size.
"""
import json
import sys
from pathlib import Path

import numpy as np

# The reference's number formats and checkpoint reader (tools/reference/formats.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "reference"))
from formats import E4M3_TABLE, E8M0_TABLE, bf16_values, read_checkpoint, unpack_fp4  # noqa: E402


def dequant_fp8(codes, scale):
    """e4m3 codes [rows, cols] times their 128x128 blocks' ue8m0 scales, as fp32."""
    rows, cols = codes.shape
    s = E8M0_TABLE[scale]
    s = np.repeat(np.repeat(s, 128, axis=0)[:rows], 128, axis=1)[:, :cols]
    return E4M3_TABLE[codes] * s


def mxfp4_rows(packed, scale):
    """e2m1 rows [rows, cols/2] (byte i: element 2i low nibble, 2i + 1 high) + per-32 scales ->
    ggml block_mxfp4 rows (per 32: the scale byte, then byte j = element j | element j+16 << 4)."""
    rows, cols = packed.shape[0], packed.shape[1] * 2
    nb = cols // 32
    src = packed.view(np.uint8).reshape(rows, nb, 16)
    vals = np.stack((src & 0x0F, src >> 4), axis=-1).reshape(rows, nb, 32)
    qs = (vals[:, :, :16] | (vals[:, :, 16:] << 4)).astype(np.uint8)
    return np.concatenate((scale.reshape(rows, nb, 1), qs), axis=-1).reshape(rows, nb * 17)


def verify(gguf, st, path):
    """Reads the written file back with gguf-py's own reader and dequantisers: the MXFP4
    experts and the BF16 head must give the checkpoint's values exactly, a Q8_0 tensor
    within Q8_0's rounding (0.6 of a step: 1/127 of each 32-block's absmax)."""
    Q = gguf.GGMLQuantizationType
    r = gguf.GGUFReader(path)
    t = {x.name: x for x in r.tensors}
    last = max(int(n.split(".")[1]) for n in t if n.startswith("blk."))
    x = t[f"blk.{last}.ffn_down_exps.weight"]
    e = int(x.data.shape[0]) - 1
    got = gguf.quants.dequantize(np.asarray(x.data[e]), Q.MXFP4)
    want = unpack_fp4(st[f"layers.{last}.ffn.experts.{e}.w2.weight"].data)
    want *= np.repeat(E8M0_TABLE[st[f"layers.{last}.ffn.experts.{e}.w2.scale"].data], 32, axis=1)
    if not np.array_equal(got, want):
        sys.exit(f"verify: {x.name} expert {e} differs from the checkpoint")
    h = t["output.weight"]
    if not np.array_equal(np.asarray(h.data).view(np.uint8).ravel(), st["head.weight"].data.view(np.uint8).ravel()):
        sys.exit("verify: output.weight differs from head.weight")
    q = t["blk.0.attn_q_b.weight"]
    got = gguf.quants.dequantize(np.asarray(q.data), Q.Q8_0)
    want = dequant_fp8(st["layers.0.attn.wq_b.weight"].data, st["layers.0.attn.wq_b.scale"].data)
    step = np.repeat(np.abs(want.reshape(-1, 32)).max(axis=1) / 127, 32).reshape(want.shape)
    # Q8_0 stores the block scale as fp16: |error| <= step/2 + 127 * step * 2^-11 < 0.6 step.
    if np.any(np.abs(got - want) > step * 0.6 + 1e-30):
        sys.exit("verify: blk.0.attn_q_b.weight is not the checkpoint's wq_b within Q8_0 rounding")
    print(f"verified {path}: {x.name} and output.weight exact, attn_q_b within Q8_0 rounding")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    gguf_py, ckpt, tok_path, out = sys.argv[1:]
    sys.path.insert(0, gguf_py)
    import gguf
    from gguf import GGMLQuantizationType as Q, MODEL_TENSOR as T

    cfg = json.load(open(Path(ckpt) / "config.json"))
    st = read_checkpoint(ckpt, mmap=True)  # one file or the shipped shards with their index
    n_layer = cfg["num_hidden_layers"]
    n_expert = cfg["n_routed_experts"]

    w = gguf.GGUFWriter(out, "deepseek4")
    w.add_block_count(n_layer)
    # Hyperparameters written as config.json has them: (GGUFWriter method, config key).
    for method, key in [
            ("add_context_length", "max_position_embeddings"), ("add_embedding_length", "hidden_size"),
            ("add_head_count", "num_attention_heads"), ("add_head_count_kv", "num_key_value_heads"),
            ("add_rope_freq_base", "rope_theta"), ("add_layer_norm_rms_eps", "rms_norm_eps"),
            ("add_expert_count", "n_routed_experts"), ("add_expert_used_count", "num_experts_per_tok"),
            ("add_key_length", "head_dim"), ("add_value_length", "head_dim"),
            ("add_rope_dimension_count", "qk_rope_head_dim"), ("add_q_lora_rank", "q_lora_rank"),
            ("add_sliding_window", "sliding_window"), ("add_expert_feed_forward_length", "moe_intermediate_size"),
            ("add_expert_shared_count", "n_shared_experts"), ("add_expert_weights_scale", "routed_scaling_factor"),
            ("add_indexer_head_count", "index_n_heads"), ("add_indexer_key_length", "index_head_dim"),
            ("add_indexer_top_k", "index_topk"), ("add_attention_output_group_count", "o_groups"),
            ("add_attention_output_lora_rank", "o_lora_rank"), ("add_attention_compress_ratios", "compress_ratios"),
            ("add_attention_compress_rope_freq_base", "compress_rope_theta"),
            ("add_hyper_connection_count", "hc_mult"),
            ("add_hyper_connection_sinkhorn_iterations", "hc_sinkhorn_iters"),
            ("add_hyper_connection_epsilon", "hc_eps"), ("add_hash_layer_count", "num_hash_layers")]:
        getattr(w, method)(cfg[key])
    rope = cfg.get("rope_scaling") or {}
    if rope.get("type", rope.get("rope_type")) == "yarn":
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(rope["factor"])
        w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
        if "beta_fast" in rope:
            w.add_rope_scaling_yarn_beta_fast(rope["beta_fast"])
        if "beta_slow" in rope:
            w.add_rope_scaling_yarn_beta_slow(rope["beta_slow"])
    if cfg.get("scoring_func", "sqrtsoftplus") != "sqrtsoftplus":
        sys.exit("llama.cpp's deepseek4 loader expects sqrtsoftplus routing")
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SQRTSOFTPLUS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_MXFP4_MOE)
    w.add_expert_weights_norm(cfg.get("norm_topk_prob", True))
    w.add_swiglu_clamp_exp([cfg["swiglu_limit"]] * n_layer)
    w.add_swiglu_clamp_shexp([cfg["swiglu_limit"]] * n_layer)
    w.add_embedding_length_out(cfg["hidden_size"] * cfg["hc_mult"])

    # Vocabulary: the tokenizer's tokens by id, then placeholders up to vocab_size.
    tok = json.load(open(tok_path))
    n_vocab = cfg["vocab_size"]
    names = {i: t for t, i in tok["model"]["vocab"].items()}
    special = {a["id"]: a["content"] for a in tok.get("added_tokens", [])}
    tokens, types = [], []
    for i in range(n_vocab):
        if i in special:
            tokens.append(special[i])
            types.append(gguf.TokenType.CONTROL)
        elif i in names:
            tokens.append(names[i])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append(f"<|dsv4_unused_{i}|>")
            types.append(gguf.TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("deepseek-v3")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg.get("bos_token_id", 0))
    w.add_eos_token_id(cfg.get("eos_token_id", 1))
    w.add_add_bos_token(True)

    root = {"embed.weight": T.TOKEN_EMBD, "norm.weight": T.OUTPUT_NORM, "head.weight": T.OUTPUT,
            "hc_head_fn": T.HC_HEAD_FN, "hc_head_base": T.HC_HEAD_BASE, "hc_head_scale": T.HC_HEAD_SCALE}
    layer = {
        "hc_attn_fn": T.HC_ATTN_FN, "hc_attn_base": T.HC_ATTN_BASE, "hc_attn_scale": T.HC_ATTN_SCALE,
        "hc_ffn_fn": T.HC_FFN_FN, "hc_ffn_base": T.HC_FFN_BASE, "hc_ffn_scale": T.HC_FFN_SCALE,
        "attn.attn_sink": T.ATTN_SINKS, "attn.wq_a.weight": T.ATTN_Q_A, "attn.wq_b.weight": T.ATTN_Q_B,
        "attn.q_norm.weight": T.ATTN_Q_A_NORM, "attn.wkv.weight": T.ATTN_KV,
        "attn.kv_norm.weight": T.ATTN_KV_NORM, "attn.wo_a.weight": T.ATTN_OUT_A,
        "attn.wo_b.weight": T.ATTN_OUT_B, "attn.compressor.ape": T.ATTN_COMPRESSOR_APE,
        "attn.compressor.wkv.weight": T.ATTN_COMPRESSOR_WKV,
        "attn.compressor.wgate.weight": T.ATTN_COMPRESSOR_WGATE,
        "attn.compressor.norm.weight": T.ATTN_COMPRESSOR_NORM,
        "attn.indexer.wq_b.weight": T.INDEXER_ATTN_Q_B, "attn.indexer.weights_proj.weight": T.INDEXER_PROJ,
        "attn.indexer.compressor.ape": T.INDEXER_COMPRESSOR_APE,
        "attn.indexer.compressor.wkv.weight": T.INDEXER_COMPRESSOR_WKV,
        "attn.indexer.compressor.wgate.weight": T.INDEXER_COMPRESSOR_WGATE,
        "attn.indexer.compressor.norm.weight": T.INDEXER_COMPRESSOR_NORM,
        "attn_norm.weight": T.ATTN_NORM, "ffn_norm.weight": T.FFN_NORM, "ffn.gate.weight": T.FFN_GATE_INP,
        "ffn.gate.bias": T.FFN_EXP_PROBS_B, "ffn.gate.tid2eid": T.FFN_GATE_TID2EID,
        "ffn.shared_experts.w1.weight": T.FFN_GATE_SHEXP, "ffn.shared_experts.w2.weight": T.FFN_DOWN_SHEXP,
        "ffn.shared_experts.w3.weight": T.FFN_UP_SHEXP,
    }
    experts = {"w1": T.FFN_GATE_EXP, "w2": T.FFN_DOWN_EXP, "w3": T.FFN_UP_EXP}

    # Plan: (gguf name, byte-shape or shape, numpy dtype, nbytes, raw type, producer).
    plan = []

    def add(name, dtype, shape, raw, produce):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        plan.append((name, shape, np.dtype(dtype), nbytes, raw, produce))

    def add_source(src, gname):
        t = st[src]
        shape, data = list(t.shape), t.data
        if t.dtype == "F8_E4M3":
            scale = st[src.removesuffix(".weight") + ".scale"].data
            qshape = [shape[0], shape[1] // 32 * 34]  # Q8_0: 32 values in 34 bytes
            add(gname, np.uint8, qshape, Q.Q8_0, lambda: gguf.quants.quantize(dequant_fp8(data, scale), Q.Q8_0))
        elif t.dtype == "BF16":
            if len(shape) == 1:  # norms: llama.cpp's converter writes 1-D tensors as F32
                add(gname, np.float32, shape, None, lambda: bf16_values(data))
            else:
                add(gname, np.uint8, shape[:-1] + [shape[-1] * 2], Q.BF16, lambda: data.view(np.uint8))
        elif t.dtype == "F32":
            add(gname, np.float32, shape, None, lambda: data)
        elif t.dtype == "I64":
            add(gname, np.int32, shape, None, lambda: data.astype(np.int32))
        else:
            sys.exit(f"{src}: dtype {t.dtype} not handled")

    for name, key in root.items():
        add_source(name, gguf.TENSOR_NAMES[key] + ".weight")
    for bid in range(n_layer):
        for sub, key in layer.items():
            src = f"layers.{bid}.{sub}"
            if src not in st:
                continue
            if sub == "ffn.gate.bias" and bid < cfg["num_hash_layers"]:
                continue  # hash layers route by tid2eid; the bias is unused
            suffix = ".bias" if sub == "ffn.gate.bias" else ".weight"
            add_source(src, gguf.TENSOR_NAMES[key].format(bid=bid) + suffix)
        for proj, key in experts.items():
            rows, cols = st[f"layers.{bid}.ffn.experts.0.{proj}.weight"].shape
            cols *= 2

            def produce(bid=bid, proj=proj, rows=rows, cols=cols):
                out = np.empty((n_expert, rows, cols // 32 * 17), dtype=np.uint8)
                for e in range(n_expert):
                    out[e] = mxfp4_rows(st[f"layers.{bid}.ffn.experts.{e}.{proj}.weight"].data,
                                        st[f"layers.{bid}.ffn.experts.{e}.{proj}.scale"].data)
                return out

            add(gguf.TENSOR_NAMES[key].format(bid=bid) + ".weight", np.uint8, [n_expert, rows, cols // 32 * 17],
                Q.MXFP4, produce)

    for name, shape, dtype, nbytes, raw, _ in plan:
        w.add_tensor_info(name, shape, dtype, nbytes, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shape, dtype, nbytes, raw, produce in plan:
        data = np.ascontiguousarray(produce(), dtype=dtype)
        if data.nbytes != nbytes:
            sys.exit(f"{name}: produced {data.nbytes} bytes, planned {nbytes}")
        w.write_tensor_data(data)
        print(f"{name}: {raw.name if raw is not None else dtype} {shape}", flush=True)
    w.close()
    verify(gguf, st, out)


if __name__ == "__main__":
    main()
