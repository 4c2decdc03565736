#include "model/forward/model.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/derived_file.h"
#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/memory_lock.h"
#include "core/thread_pool.h"
#include "kernels/bf16_row_blocks.h"
#include "kernels/linear.h"
#include "model/forward/attention.h"
#include "model/forward/hyper_connection.h"
#include "model/forward/moe.h"
#include "model/forward/ops.h"

namespace dsv4 {

Result<std::unique_ptr<Model>> Model::Load(const std::string& dir, const LoadOptions& options) {
  Result<ModelConfig> config = LoadModelConfig(dir);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  if (!ckpt.ok()) return ckpt.status();
  std::unique_ptr<Model> model(new Model());
  model->config_ = std::move(config.value());
  model->checkpoint_ = std::move(ckpt.value());
  try {
    model->weights_ = BindModelWeights(*model->checkpoint_, model->config_);
  } catch (const Error& e) {
    return Result<std::unique_ptr<Model>>::Fail(e.what());
  }
  model->PackRowBlocks(options.row_blocks_cache);
  if (options.lock_in_memory) {
    Status locked = model->LockWeightsInMemory();
    if (!locked.ok()) return Result<std::unique_ptr<Model>>::Fail("--mlock: " + locked.message());
  }
  const ModelConfig& c = model->config_;
  model->rope_window_ = RopeTable(c.qk_rope_head_dim, c.rope_theta, 1.0, 0, c.rope_beta_fast,
                                  c.rope_beta_slow);
  model->rope_compressed_ =
      RopeTable(c.qk_rope_head_dim, c.compress_rope_theta, c.rope_factor,
                c.rope_original_max_position, c.rope_beta_fast, c.rope_beta_slow);
  return model;
}

namespace {

// The BF16 matrices the forward multiplies through kernels::Linear (the embedding is only
// looked up): the head, each layer's (and the MTP block's) compressor, indexer and router
// matrices, and whichever others a checkpoint ships in BF16.
std::vector<kernels::WeightMatrix*> Bf16LinearMatrices(ModelWeights& w) {
  std::vector<kernels::WeightMatrix*> all;
  auto compressor = [&](CompressorWeights& c) {
    all.push_back(&c.wkv);
    all.push_back(&c.wgate);
  };
  auto block = [&](BlockWeights& b) {
    all.push_back(&b.hc_attn.fn);
    all.push_back(&b.hc_ffn.fn);
    AttentionWeights& a = b.attn;
    for (kernels::WeightMatrix* m : {&a.wq_a, &a.wq_b, &a.wkv, &a.wo_a, &a.wo_b}) all.push_back(m);
    if (a.has_compressor) compressor(a.compressor);
    if (a.has_indexer) {
      all.push_back(&a.indexer.wq_b);
      all.push_back(&a.indexer.weights_proj);
      compressor(a.indexer.compressor);
    }
    all.push_back(&b.ffn.gate);
    auto expert = [&](ExpertWeights& e) {
      for (kernels::WeightMatrix* m : {&e.w1, &e.w2, &e.w3}) all.push_back(m);
    };
    for (ExpertWeights& e : b.ffn.experts) expert(e);
    expert(b.ffn.shared);
  };
  all.push_back(&w.head);
  all.push_back(&w.hc_head.fn);
  for (BlockWeights& b : w.layers) block(b);
  for (MtpWeights& m : w.mtp) {
    block(m.block);
    all.push_back(&m.e_proj);
    all.push_back(&m.h_proj);
    all.push_back(&m.hc_head.fn);
  }
  std::vector<kernels::WeightMatrix*> bf16;
  for (kernels::WeightMatrix* m : all) {
    if (m->dtype == DType::kBF16 && m->data != nullptr && m->rows > 0 && m->cols % 32 == 0) bf16.push_back(m);
  }
  return bf16;
}

}  // namespace

const char* RowBlocksOriginName(RowBlocksOrigin origin) {
  switch (origin) {
    case RowBlocksOrigin::kNone: return "none";
    case RowBlocksOrigin::kPacked: return "packed";
    case RowBlocksOrigin::kPackedAndCached: return "packed+cached";
    case RowBlocksOrigin::kCacheFile: return "cache file";
  }
  return "?";
}

void Model::PackRowBlocks(const RowBlocksCacheOptions& cache) {
  // Fast mode multiplies BF16 matrices on blocked copies where it has the kernel for them
  // (kernels/bf16_row_blocks.h; with AMX on the tiles for every T: a batch-16 head 1.4-1.7x
  // faster, and the compressors', indexer's and router's products of a 512-token prefill
  // chunk off the FMA kernels); the mapped originals leave the resident set (precise mode
  // and the other kernel sets read them back from the file when they need them).
  if (kernels::ActiveBf16Blocks() == nullptr) return;
  std::vector<kernels::WeightMatrix*> matrices = Bf16LinearMatrices(weights_);
  const std::vector<const kernels::WeightMatrix*> sources(matrices.begin(), matrices.end());
  size_t total = 0;
  for (const kernels::WeightMatrix* m : matrices) total += size_t(kernels::RowBlocksElements(m->rows, m->cols)) * 2;
  if (total == 0) return;
  // From the cache file where it holds these matrices' copies (row_blocks_cache.h).
  const bool cached = cache.enabled && total >= cache.min_bytes;
  const std::string cache_path = cached ? RowBlocksCachePath(*checkpoint_, cache) : "";
  const std::string key = cached ? RowBlocksCacheKey(*checkpoint_, sources) : "";
  auto release_sources = [&] {
    for (const kernels::WeightMatrix* m : matrices) ReleaseMappedRange(m->data, size_t(m->bytes()));
  };
  if (cached) {
    // The originals leave the resident set before the file's map joins it (the peak RSS
    // would otherwise hold both); the sampled check faults a few of their pages back.
    release_sources();
    std::string why;
    std::unique_ptr<DerivedFile> file = DerivedFile::Open(cache_path, key, total, &why);
    const bool match = file != nullptr && RowBlocksMatchSources(sources, reinterpret_cast<const uint16_t*>(file->payload()));
    release_sources();
    if (match) {
      const uint16_t* blocks = reinterpret_cast<const uint16_t*>(file->payload());
      for (kernels::WeightMatrix* m : matrices) {
        m->row_blocks = blocks;
        blocks += kernels::RowBlocksElements(m->rows, m->cols);
      }
      weights_.row_blocks_file = std::move(file);
      row_blocks_origin_ = RowBlocksOrigin::kCacheFile;
      return;
    }
    if (file != nullptr) why = cache_path + ": sampled elements differ from the checkpoint";
    if (!why.empty()) std::fprintf(stderr, "packed weights: %s; repacking\n", why.c_str());
  }
  weights_.row_blocks = HugePageBuffer(total);
  uint16_t* blocks = weights_.row_blocks.as<uint16_t>();
  for (kernels::WeightMatrix* m : matrices) {
    const int64_t K = m->cols;
    // In chunks of 4096 rows (32 MiB at K = 4096), each released once packed, so the
    // resident set grows by a chunk, not by a second head.
    constexpr int64_t kChunkRows = 4096;
    const uint16_t* src = reinterpret_cast<const uint16_t*>(m->data);
    for (int64_t r0 = 0; r0 < m->rows; r0 += kChunkRows) {
      const int64_t rows = std::min(kChunkRows, m->rows - r0);
      kernels::PackBf16RowBlocks(src + r0 * K, rows, K, blocks + r0 * K);
      ReleaseMappedRange(m->data + r0 * K * 2, size_t(rows * K * 2));
    }
    m->row_blocks = blocks;
    blocks += kernels::RowBlocksElements(m->rows, K);
  }
  release_sources();  // the pages across chunk ends too
  row_blocks_origin_ = RowBlocksOrigin::kPacked;
  if (!cached) return;
  // This process keeps its own copy; the next one maps the file.
  std::string err;
  if (DerivedFile::Write(cache_path, key, weights_.row_blocks.as<const void>(), total, cache.min_free_bytes, &err)) {
    row_blocks_origin_ = RowBlocksOrigin::kPackedAndCached;
    std::fprintf(stderr, "packed weights: %.1f MiB cached in %s for later loads\n", double(total) / (1 << 20), cache_path.c_str());
    PruneOrphanRowBlocks(std::filesystem::path(cache_path).parent_path().string(), cache_path);
  } else {
    std::fprintf(stderr, "packed weights: not cached (%s)\n", err.c_str());
  }
}

Status Model::LockWeightsInMemory() const {
  // The shards' maps whole: MLOCK_ONFAULT leaves the originals of the blocked copies
  // (released at load) out until something reads them.
  for (const auto& file : checkpoint_->files()) {
    Status s = LockInMemory(file->map().data(), file->map().size());
    if (!s.ok()) return s;
  }
  if (weights_.row_blocks_file) {
    return LockInMemory(weights_.row_blocks_file->payload(), weights_.row_blocks_file->payload_bytes());
  }
  return LockInMemory(weights_.row_blocks.as<const void>(), weights_.row_blocks.bytes());
}

const RopeTable& Model::RopeFor(int64_t layer) const {
  return config_.CompressRatio(layer) > 0 ? rope_compressed_ : rope_window_;
}

void Model::Block(const BlockWeights& w, const std::vector<LayerRows>& segs, float* x,
                  const int32_t* tokens, int64_t N, const ForwardOptions& options) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size;
  // Reused across layers and calls (ReuseBuffer); every element is written before use.
  thread_local std::vector<float> y_buffer, f_buffer;
  std::vector<float>& y = ReuseBuffer(y_buffer, size_t(N * D));
  std::vector<float>& f = ReuseBuffer(f_buffer, size_t(N * D));
  thread_local HcMix mix_buffer;  // (its vectors keep their capacity from layer to layer)
  HcMix& mix = mix_buffer;
  // Attention half (§5 steps 1-2).
  HcPre(x, N, w.hc_attn, c, y.data(), &mix);
  RmsNormRows(y.data(), w.attn_norm.data(), N, D, float(c.rms_norm_eps), y.data());
  AttentionForward(w.attn, c, RopeFor(w.layer), y.data(), segs, options, f.data());
  HcPost(f.data(), x, N, mix, c, x);
  // FFN half (§5 steps 3-4).
  HcPre(x, N, w.hc_ffn, c, y.data(), &mix);
  RmsNormRows(y.data(), w.ffn_norm.data(), N, D, float(c.rms_norm_eps), y.data());
  MoeForward(w.ffn, c, y.data(), tokens, N, options.act_quant, f.data());
  HcPost(f.data(), x, N, mix, c, x);
}

void Model::Head(const float* x, int64_t T, const HcHeadWeights& hc_head,
                 const std::vector<float>& norm, float* logits) const {
  const int64_t D = config_.hidden_size;
  thread_local std::vector<float> h_buffer;
  std::vector<float>& h = ReuseBuffer(h_buffer, size_t(T * D));
  HcHead(x, T, hc_head, config_, h.data());
  RmsNormRows(h.data(), norm.data(), T, D, float(config_.rms_norm_eps), h.data());
  kernels::Linear(h.data(), T, weights_.head, logits, {.act_quant = false, .round_bf16 = false});
}

namespace {

// A step's sequences in one batch: sequence i's rows [row0[i], row0[i] + rows[i]) at
// positions from pos0[i]. Kept per thread from step to step (StepScratch), with the step's
// other bookkeeping, so a decode step allocates nothing.
struct StepRows {
  std::vector<int64_t> row0, rows, pos0;
  std::vector<SequenceState*> states;
  std::vector<int32_t> tokens;
  std::vector<LayerRows> at_layer;  // RowsAtLayer's
  std::vector<int64_t> head_rows;
  std::vector<size_t> first;  // each segment's first row of logits
  std::vector<const std::vector<float>*> outs;
  void Clear() {
    row0.clear(), rows.clear(), pos0.clear(), states.clear(), tokens.clear();
    head_rows.clear(), first.clear(), outs.clear();
  }
};
StepRows& StepScratch() {
  thread_local StepRows rows;
  rows.Clear();
  return rows;
}

// The rows of each sequence of a step in one batch, and their states at layer `layer`.
const std::vector<LayerRows>& RowsAtLayer(StepRows& s, int64_t layer) {
  s.at_layer.clear();
  for (size_t i = 0; i < s.states.size(); ++i) {
    if (s.rows[i] > 0) s.at_layer.push_back({s.row0[i], s.rows[i], s.pos0[i], &s.states[i]->layer(layer)});
  }
  return s.at_layer;
}

void CheckTokens(const std::vector<int32_t>& tokens, int64_t V) {
  for (int32_t tok : tokens) {
    if (tok < 0 || tok >= V) {
      throw Error("token id " + std::to_string(tok) + " is outside the vocabulary (0.." + std::to_string(V - 1) + ")");
    }
  }
}

}  // namespace

void Model::Forward(std::vector<ForwardSegment>& segments, const ForwardOptions& options) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  // Validate everything before any state changes.
  StepRows& step = StepScratch();
  std::vector<int64_t>&row0 = step.row0, &rows = step.rows, &pos0 = step.pos0;
  std::vector<SequenceState*>& states = step.states;
  std::vector<int32_t>& tokens = step.tokens;
  for (ForwardSegment& seg : segments) {
    Require(seg.state != nullptr && seg.state->num_layers() >= c.num_hidden_layers,
            "sequence state does not belong to this model");
    const int64_t T = int64_t(seg.tokens.size());
    for (size_t i = 0; i < states.size(); ++i) {
      Require(states[i] != seg.state || T == 0 || rows[i] == 0,
              "a sequence appears twice in one step");
    }
    CheckTokens(seg.tokens, V);
    Require(options.act_quant || seg.state->storage() == KvStorage::kBf16,
            "a compact (FP8/FP4) cache needs activation quantisation on; make the state with "
            "KvStorage::kBf16 for --no-act-quant");
    if (seg.state->length() + T > c.max_position_embeddings) {
      throw Error("context of " + std::to_string(seg.state->length() + T) + " tokens exceeds max_position_embeddings " +
                  std::to_string(c.max_position_embeddings));
    }
    row0.push_back(int64_t(tokens.size()));
    rows.push_back(T);
    pos0.push_back(seg.state->length());
    states.push_back(seg.state);
    tokens.insert(tokens.end(), seg.tokens.begin(), seg.tokens.end());
  }
  const int64_t N = int64_t(tokens.size());
  if (N == 0) return;

  // Embedding, copied into all hc streams (§3): x [N, hc, D], every element written. Kept
  // across calls (ReuseBuffer): a fresh one (33.5 MB for a 512-token V4-Flash chunk) cost
  // ~8k page faults and a zero fill on the engine thread alone every chunk.
  thread_local std::vector<float> x_buffer;
  std::vector<float>& x = ReuseBuffer(x_buffer, size_t(N * hc * D));
  ParallelFor(size_t(N), 16, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      float* xt = &x[t * size_t(hc * D)];
      EmbeddingRow(weights_, tokens[t], xt);
      for (int64_t j = 1; j < hc; ++j) std::copy(xt, xt + D, xt + j * D);
    }
  });
  for (const BlockWeights& bw : weights_.layers) {
    Block(bw, RowsAtLayer(step, bw.layer), x.data(), tokens.data(), N, options);
  }

  // Outputs: final HC states, and logits of the requested rows through one head pass.
  std::vector<int64_t>& head_rows = step.head_rows;
  for (size_t i = 0; i < segments.size(); ++i) {
    ForwardSegment& seg = segments[i];
    if (rows[i] == 0) continue;
    seg.state->set_length(pos0[i] + rows[i]);
    if (seg.hidden) {
      seg.hidden->assign(x.begin() + row0[i] * hc * D, x.begin() + (row0[i] + rows[i]) * hc * D);
    }
    if (seg.logits) {
      for (int64_t t = seg.all_logits ? 0 : rows[i] - 1; t < rows[i]; ++t) head_rows.push_back(row0[i] + t);
    }
  }
  if (head_rows.empty()) return;
  // Reused across calls for decode-sized requests: the logits (517 KB a row at V4's
  // vocabulary) were a fresh allocation, page faults and zero fill each decode step. All
  // of a long chunk's logits (eval) get a vector of their own, not kept.
  constexpr size_t kReusedHeadRows = 64;
  thread_local std::vector<float> hx_buffer, logits_buffer;
  std::vector<float> hx_own, logits_own;
  const bool reuse = head_rows.size() <= kReusedHeadRows;
  std::vector<float>& hx = ReuseBuffer(reuse ? hx_buffer : hx_own, head_rows.size() * size_t(hc * D));
  std::vector<float>& logits = ReuseBuffer(reuse ? logits_buffer : logits_own, head_rows.size() * size_t(V));
  for (size_t r = 0; r < head_rows.size(); ++r) {
    std::copy(x.begin() + head_rows[r] * hc * D, x.begin() + (head_rows[r] + 1) * hc * D,
              hx.begin() + int64_t(r) * hc * D);
  }
  Head(hx.data(), int64_t(head_rows.size()), weights_.hc_head, weights_.norm, logits.data());
  // Each segment's rows copied out on the pool (batch 16: 8 MB of logits a step, ~0.9 ms
  // of the engine thread alone).
  std::vector<size_t>& first = step.first;
  first.assign(segments.size(), 0);
  size_t next = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    first[i] = next;
    if (rows[i] > 0 && segments[i].logits) next += segments[i].all_logits ? size_t(rows[i]) : 1;
  }
  auto copy_out = [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      ForwardSegment& seg = segments[i];
      if (rows[i] == 0 || !seg.logits) continue;
      const size_t n = seg.all_logits ? size_t(rows[i]) : 1;
      seg.logits->assign(logits.begin() + int64_t(first[i] * V), logits.begin() + int64_t((first[i] + n) * V));
    }
  };
  // (In order on this thread if two segments share an output vector: the later one wins,
  // as before.)
  std::vector<const std::vector<float>*>& outs = step.outs;
  for (const ForwardSegment& seg : segments) {
    if (seg.logits) outs.push_back(seg.logits);
  }
  std::sort(outs.begin(), outs.end());
  if (std::adjacent_find(outs.begin(), outs.end()) == outs.end()) {
    ParallelFor(segments.size(), 1, copy_out);
  } else {
    copy_out(0, segments.size());
  }
}

void Model::ForwardMtp(std::vector<MtpSegment>& segments, const ForwardOptions& options) const {
  Require(has_mtp(), "this checkpoint has no MTP layer");
  const ModelConfig& c = config_;
  const MtpWeights& m = weights_.mtp[0];
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  StepRows& step = StepScratch();
  std::vector<int64_t>&row0 = step.row0, &rows = step.rows, &pos0 = step.pos0;
  std::vector<SequenceState*>& states = step.states;
  std::vector<int32_t>& tokens = step.tokens;
  thread_local std::vector<float> hidden;
  hidden.clear();
  for (MtpSegment& seg : segments) {
    const int64_t T = int64_t(seg.next_tokens.size());
    Require(int64_t(seg.hidden.size()) == T * hc * D, "MTP hidden states have the wrong size");
    Require(seg.state != nullptr && seg.state->num_layers() > c.num_hidden_layers,
            "sequence state has no MTP layer");
    CheckTokens(seg.next_tokens, V);
    Require(options.act_quant || seg.state->storage() == KvStorage::kBf16,
            "a compact (FP8/FP4) cache needs activation quantisation on");
    row0.push_back(int64_t(tokens.size()));
    rows.push_back(T);
    pos0.push_back(seg.state->mtp_length());
    states.push_back(seg.state);
    tokens.insert(tokens.end(), seg.next_tokens.begin(), seg.next_tokens.end());
    hidden.insert(hidden.end(), seg.hidden.begin(), seg.hidden.end());
  }
  const int64_t N = int64_t(tokens.size());
  if (N == 0) return;
  const kernels::LinearOptions lin{.act_quant = options.act_quant, .round_bf16 = true};
  // e = enorm(embed[t_next]); h_j = hnorm(H_j); X_j = bf16(e_proj·e + h_proj·h_j) (§9).
  // Reused from step to step (ReuseBuffer), every element written before it is read.
  thread_local std::vector<float> e_buffer, h_buffer, pe_buffer, x_buffer, logits_buffer;
  std::vector<float>& e = ReuseBuffer(e_buffer, size_t(N * D));
  std::vector<float>& h = ReuseBuffer(h_buffer, size_t(N * hc * D));
  for (int64_t t = 0; t < N; ++t) {
    EmbeddingRow(weights_, tokens[size_t(t)], &e[size_t(t * D)]);
    RmsNorm(&e[size_t(t * D)], m.enorm.data(), D, float(c.rms_norm_eps), &e[size_t(t * D)]);
  }
  for (int64_t r = 0; r < N * hc; ++r) {
    RmsNorm(&hidden[size_t(r * D)], m.hnorm.data(), D, float(c.rms_norm_eps), &h[size_t(r * D)]);
  }
  std::vector<float>& pe = ReuseBuffer(pe_buffer, size_t(N * D));
  std::vector<float>& x = ReuseBuffer(x_buffer, size_t(N * hc * D));
  kernels::Linear(e.data(), N, m.e_proj, pe.data(), lin);
  kernels::Linear(h.data(), N * hc, m.h_proj, x.data(), lin);
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t j = 0; j < hc; ++j) {
      for (int64_t d = 0; d < D; ++d) {
        float& v = x[size_t((t * hc + j) * D + d)];
        v = RoundBf16(pe[size_t(t * D + d)] + v);
      }
    }
  }
  Block(m.block, RowsAtLayer(step, c.num_hidden_layers), x.data(), tokens.data(), N, options);
  std::vector<float>& logits = ReuseBuffer(logits_buffer, size_t(N * V));
  Head(x.data(), N, m.hc_head, m.norm, logits.data());
  for (size_t i = 0; i < segments.size(); ++i) {
    MtpSegment& seg = segments[i];
    seg.state->set_mtp_length(pos0[i] + rows[i]);
    if (seg.logits) {
      seg.logits->assign(logits.begin() + row0[i] * V, logits.begin() + (row0[i] + rows[i]) * V);
    }
  }
}

}  // namespace dsv4
