"""Write the engine benchmark's random checkpoint: V4-Flash's per-layer shapes (hidden 4096,
64 heads x 512, q/o LoRA 1024, window 128, indexer 64 x 128 top-512, experts 2048 wide,
6 routed + 1 shared per token, FP8/FP4 as shipped) at reduced depth (2 layers: one CSA, one
HCA), 8 routed experts and a 4096-token vocabulary.

    /usr/bin/python3 bench/make_engine_bench_model.py OUT_DIR
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "reference"))
import make_checkpoint as mc  # noqa: E402

FLASH_LAYERS = dict(
    mc._COMMON, vocab_size=4096, hidden_size=4096, num_hidden_layers=2,
    compress_ratios=[4, 128], num_hash_layers=1,
    num_attention_heads=64, head_dim=512, qk_rope_head_dim=64, q_lora_rank=1024,
    o_groups=8, o_lora_rank=1024, sliding_window=128,
    index_n_heads=64, index_head_dim=128, index_topk=512,
    n_routed_experts=8, num_experts_per_tok=6, moe_intermediate_size=2048,
    routed_scaling_factor=1.5, swiglu_limit=10.0, max_position_embeddings=65536,
    rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 4096,
                  "beta_fast": 32, "beta_slow": 1},
    num_nextn_predict_layers=0,
    quantization_config=mc.QUANT_CONFIG, _quant="fp8", _shards=1, _seed=4004)

if __name__ == "__main__":
    mc.write_model(sys.argv[1], FLASH_LAYERS)
    print("wrote", sys.argv[1])
