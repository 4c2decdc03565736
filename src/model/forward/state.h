// Per-sequence inference state (spec §6.5, §6.6, §13.2): for every layer the raw
// sliding window, the compressed KV entries, the compressor's partial blocks, and for
// CSA layers the indexer's keys and compressor. Owned by one sequence; the engine
// thread alone touches it. Reset() returns it to "no tokens seen".
//
// Storage (chosen per state at creation, spec §13.2-13.3): kCompact keeps KV entries as
// FP8 e4m3 + ue8m0 scales + bf16 rope dims (584 bytes for 512 dims) and indexer keys as
// FP4 e2m1 + ue8m0 scales (68 bytes for 128 dims): exact, because with activation
// quantisation on the reference has already put the values on those grids. kBf16 keeps
// bf16 bits, for the --no-act-quant mode whose values are on no such grid.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv4 {

enum class KvStorage { kBf16, kCompact };
// The storage whose values the forward with this activation-quantisation setting produces.
inline KvStorage KvStorageFor(bool act_quant) { return act_quant ? KvStorage::kCompact : KvStorage::kBf16; }

// Partial-block state of one gated-pooling compressor (spec §6.6 decode state machine).
struct CompressorState {
  int64_t ratio = 0, dim = 0, coff = 1;
  // Rows of the block being filled, slot = pos % ratio: kv and score, each [ratio, coff·dim].
  std::vector<float> cur_kv, cur_score;
  // The previous complete block (overlap only), same layout; score -inf when absent.
  std::vector<float> prev_kv, prev_score;
  void Init(int64_t ratio, int64_t dim, int64_t coff);
  void Reset();
};

// A list of KV entries ([dim] values, the last rope_dim of them the rope part), stored
// as bf16 or in the FP8 entry layout (kv_codec.h).
class KvEntries {
 public:
  void Init(KvStorage storage, int64_t dim, int64_t rope_dim);
  static int64_t EntryBytes(KvStorage storage, int64_t dim, int64_t rope_dim);
  int64_t entry_bytes() const { return entry_bytes_; }
  int64_t dim() const { return dim_; }
  KvStorage storage() const { return storage_; }
  int64_t size() const { return entry_bytes_ ? int64_t(data_.size()) / entry_bytes_ : 0; }
  // n zero entries (decode to +0).
  void Assign(int64_t n) { data_.assign(size_t(n * entry_bytes_), 0); }
  void Clear() { data_.clear(); }
  // Room for n entries without reallocating (SequenceState::Reserve).
  void Reserve(int64_t n) { data_.reserve(size_t(n * entry_bytes_)); }
  // Values must be bf16 (kBf16) or on the FP8 entry grid (kCompact; checked).
  void Append(const float* values);
  void Set(int64_t j, const float* values);
  // bf16 bits of entry j: into the storage (kBf16) or decoded into scratch [dim].
  const uint16_t* Bf16(int64_t j, uint16_t* scratch) const;
  // bf16 bits of entries [j0, j0 + n) as one [n, dim] array: the storage itself (kBf16)
  // or decoded into *scratch.
  const uint16_t* Bf16Range(int64_t j0, int64_t n, std::vector<uint16_t>* scratch) const;
  std::vector<uint8_t>& bytes() { return data_; }
  const std::vector<uint8_t>& bytes() const { return data_; }

 private:
  KvStorage storage_ = KvStorage::kBf16;
  int64_t dim_ = 0, rope_dim_ = 0, entry_bytes_ = 0;
  std::vector<uint8_t> data_;
};

// The indexer keys of a CSA layer: bf16 [n, dim], or FP4 codes [n, dim/2] + ue8m0
// scales [n, dim/32].
class IndexKeys {
 public:
  void Init(KvStorage storage, int64_t dim);
  static int64_t KeyBytes(KvStorage storage, int64_t dim);
  KvStorage storage() const { return storage_; }
  int64_t dim() const { return dim_; }
  int64_t size() const;
  void Clear();
  void Reserve(int64_t n);  // room for n keys without reallocating
  void Append(const float* values);  // bf16 values, on the FP4 grid when kCompact
  const std::vector<uint16_t>& bf16() const { return bf16_; }
  const std::vector<uint8_t>& codes() const { return codes_; }
  const std::vector<uint8_t>& scales() const { return scales_; }
  std::vector<uint16_t>& bf16() { return bf16_; }
  std::vector<uint8_t>& codes() { return codes_; }
  std::vector<uint8_t>& scales() { return scales_; }

 private:
  KvStorage storage_ = KvStorage::kBf16;
  int64_t dim_ = 0;
  std::vector<uint16_t> bf16_;
  std::vector<uint8_t> codes_, scales_;
};

struct LayerState {
  int64_t head_dim = 0;
  int64_t window = 0;
  KvEntries window_kv;   // ring of `window` entries, slot = pos % window
  KvEntries compressed;  // compressed entry j at index j
  CompressorState compressor;
  IndexKeys index_keys;  // CSA only
  CompressorState index_compressor;
  int64_t num_compressed() const { return compressed.size(); }
};

class SequenceState {
 public:
  // Layers: the trunk's, then (if with_mtp) the MTP block's.
  SequenceState(const ModelConfig& config, bool with_mtp, KvStorage storage = KvStorage::kCompact);
  void Reset();

  KvStorage storage() const { return storage_; }
  // Positions already processed by the trunk (the next token's position).
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }
  // Positions already processed by the MTP block.
  int64_t mtp_length() const { return mtp_length_; }
  void set_mtp_length(int64_t n) { mtp_length_ = n; }

  // Room for the caches of `positions` positions, so that appending entries up to there
  // never reallocates: no heap allocation in those decode steps, and no copy of a long
  // cache at each doubling (a V4-Flash CSA layer at 1M tokens: 262,144 entries of 584
  // bytes, 146 MiB). Reserves address space; pages are only touched as entries are written.
  void Reserve(int64_t positions);

  LayerState& layer(int64_t l) { return layers_[size_t(l)]; }
  const LayerState& layer(int64_t l) const { return layers_[size_t(l)]; }
  int64_t num_layers() const { return int64_t(layers_.size()); }
  // The trunk's last HC state [hc, D] at each processed position is not kept; the
  // caller gets it from the forward when it needs MTP inputs.

  // Bytes held by the caches (window, compressed, index keys, compressor partials).
  int64_t bytes() const;

 private:
  std::vector<LayerState> layers_;
  KvStorage storage_;
  int64_t length_ = 0;
  int64_t mtp_length_ = 0;
};

}  // namespace dsv4
