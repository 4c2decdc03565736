// The bound weights of a V4 checkpoint: big matrices point into the memory map in
// their stored format; small vectors (norms, biases, HC scales) are copied to fp32.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/derived_file.h"
#include "core/huge_page_buffer.h"
#include "kernels/linear.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace dsv4 {

using kernels::WeightMatrix;

// Hyper-connection mixer of one sub-layer (spec §4): fn [(2+hc)·hc, hc·D], base, scale [3].
struct HcMixerWeights {
  WeightMatrix fn;  // F32
  std::vector<float> base;
  std::vector<float> scale;
};

// HC head collapse (spec §4.3): fn [hc, hc·D], base [hc], scale [1].
struct HcHeadWeights {
  WeightMatrix fn;
  std::vector<float> base;
  std::vector<float> scale;
};

// Gated pooling compressor (spec §6.6): wkv/wgate [c·dc, D], ape [m, c·dc], norm [dc].
struct CompressorWeights {
  int64_t ratio = 0;
  int64_t dim = 0;     // dc: 512-ish for attention, index_head_dim for the indexer
  int64_t coff = 1;    // 2 when overlapping (ratio 4)
  WeightMatrix wkv, wgate;
  std::vector<float> ape;
  std::vector<float> norm;
};

struct IndexerWeights {
  WeightMatrix wq_b;          // [H_I·d_I, q_r]
  WeightMatrix weights_proj;  // [H_I, D]
  CompressorWeights compressor;
};

struct AttentionWeights {
  int64_t compress_ratio = 0;
  WeightMatrix wq_a, wq_b, wkv, wo_a, wo_b;
  std::vector<float> q_norm, kv_norm, attn_sink;
  bool has_compressor = false;
  CompressorWeights compressor;
  bool has_indexer = false;
  IndexerWeights indexer;
};

struct ExpertWeights {
  WeightMatrix w1, w2, w3;  // w1/w3 [I, D], w2 [D, I]
};

struct MoeWeights {
  WeightMatrix gate;               // [E, D]
  std::vector<float> gate_bias;    // [E], score routing only
  std::vector<int32_t> tid2eid;    // [V, k], hash routing only
  bool hash = false;
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;
};

struct BlockWeights {
  int64_t layer = 0;
  HcMixerWeights hc_attn, hc_ffn;
  std::vector<float> attn_norm, ffn_norm;
  AttentionWeights attn;
  MoeWeights ffn;
};

struct MtpWeights {
  BlockWeights block;
  WeightMatrix e_proj, h_proj;
  std::vector<float> enorm, hnorm, norm;
  HcHeadWeights hc_head;
};

struct ModelWeights {
  WeightMatrix embed;               // BF16 (or F32) [V, D]
  WeightMatrix head;                // [V, D]
  // The BF16 matrices (the head, the compressors', indexer's and router's) in 16-row
  // blocks, each matrix's row_blocks pointing into it (kernels/bf16_row_blocks.h), where
  // fast mode has the kernel for them (Model::Load makes it): 2 MiB pages. Or, where an
  // earlier load left them in the cache (row_blocks_cache.h), that file's map instead.
  HugePageBuffer row_blocks;
  std::unique_ptr<DerivedFile> row_blocks_file;
  std::vector<float> norm;
  HcHeadWeights hc_head;
  std::vector<BlockWeights> layers;
  std::vector<MtpWeights> mtp;      // 0 or 1
};

// out: [D] = the embedding row of `token` (bf16-exact values).
void EmbeddingRow(const ModelWeights& w, int32_t token, float* out);

// Binds every tensor of the checkpoint, checking names, dtypes and shapes against the
// config; throws dsv4::Error naming the file and tensor on any mismatch, and on
// tensors the model does not use.
ModelWeights BindModelWeights(const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace dsv4
