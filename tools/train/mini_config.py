"""config.json of dsv4-mini: the V4 architecture at toy width (every layer kind, hash and score
routing, hyper-connections, MTP), with V4-Flash's long-context RoPE settings."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from make_checkpoint import _COMMON, QUANT_CONFIG  # noqa: E402

MINI = dict(
    _COMMON,
    vocab_size=4096, hidden_size=128, num_hidden_layers=3,
    compress_ratios=[0, 4, 128, 0],           # L + 1 entries (the MTP's 0), like V4-Flash
    num_hash_layers=1,
    num_attention_heads=2, head_dim=128, qk_rope_head_dim=64, q_lora_rank=128,
    o_groups=2, o_lora_rank=64, sliding_window=128,  # V4-Flash's window
    index_n_heads=2, index_head_dim=128, index_topk=16,
    n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=128,
    routed_scaling_factor=1.5, swiglu_limit=10.0,
    max_position_embeddings=1048576,
    rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                  "beta_fast": 32, "beta_slow": 1},
    quantization_config=QUANT_CONFIG,
)
