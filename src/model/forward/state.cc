#include "model/forward/state.h"

#include <algorithm>
#include <limits>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "model/forward/kv_codec.h"

namespace dsv4 {

void CompressorState::Init(int64_t r, int64_t d, int64_t c) {
  ratio = r;
  dim = d;
  coff = c;
  Reset();
}

void CompressorState::Reset() {
  const size_t n = size_t(ratio * coff * dim);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  cur_kv.assign(n, 0.0f);
  cur_score.assign(n, kNegInf);
  if (coff == 2) {
    prev_kv.assign(n, 0.0f);
    prev_score.assign(n, kNegInf);
  }
}

int64_t KvEntries::EntryBytes(KvStorage storage, int64_t dim, int64_t rope_dim) {
  return storage == KvStorage::kCompact ? Fp8EntryBytes(dim, rope_dim) : 2 * dim;
}

void KvEntries::Init(KvStorage storage, int64_t dim, int64_t rope_dim) {
  storage_ = storage;
  dim_ = dim;
  rope_dim_ = rope_dim;
  entry_bytes_ = EntryBytes(storage, dim, rope_dim);
  data_.clear();
}

void KvEntries::Set(int64_t j, const float* v) {
  uint8_t* out = &data_[size_t(j * entry_bytes_)];
  if (storage_ == KvStorage::kCompact) {
    EncodeFp8Entry(v, dim_, rope_dim_, out);
  } else {
    uint16_t* bits = reinterpret_cast<uint16_t*>(out);
    for (int64_t i = 0; i < dim_; ++i) bits[i] = FloatToBf16(v[i]);
  }
}

void KvEntries::Append(const float* v) {
  data_.resize(data_.size() + size_t(entry_bytes_));
  Set(size() - 1, v);
}

const uint16_t* KvEntries::Bf16(int64_t j, uint16_t* scratch) const {
  const uint8_t* in = &data_[size_t(j * entry_bytes_)];
  if (storage_ == KvStorage::kBf16) return reinterpret_cast<const uint16_t*>(in);
  DecodeFp8Entry(in, dim_, rope_dim_, scratch);
  return scratch;
}

const uint16_t* KvEntries::Bf16Range(int64_t j0, int64_t n, std::vector<uint16_t>* scratch) const {
  if (storage_ == KvStorage::kBf16 || n == 0) {
    return reinterpret_cast<const uint16_t*>(data_.data()) + j0 * dim_;
  }
  scratch->resize(size_t(n * dim_));
  auto decode = [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      DecodeFp8Entry(&data_[size_t((j0 + int64_t(i)) * entry_bytes_)], dim_, rope_dim_,
                     &(*scratch)[i * size_t(dim_)]);
    }
  };
  if (n >= 512) {
    ParallelFor(size_t(n), 256, decode);
  } else {
    decode(0, size_t(n));
  }
  return scratch->data();
}

int64_t IndexKeys::KeyBytes(KvStorage storage, int64_t dim) {
  return storage == KvStorage::kCompact ? dim / 2 + dim / 32 : 2 * dim;
}

void IndexKeys::Init(KvStorage storage, int64_t dim) {
  storage_ = storage;
  dim_ = dim;
  Clear();
}

int64_t IndexKeys::size() const {
  if (dim_ == 0) return 0;
  return storage_ == KvStorage::kCompact ? int64_t(codes_.size()) / (dim_ / 2)
                                         : int64_t(bf16_.size()) / dim_;
}

void IndexKeys::Reserve(int64_t n) {
  if (storage_ == KvStorage::kCompact) {
    codes_.reserve(size_t(n * (dim_ / 2)));
    scales_.reserve(size_t(n * (dim_ / 32)));
  } else {
    bf16_.reserve(size_t(n * dim_));
  }
}

void IndexKeys::Clear() {
  bf16_.clear();
  codes_.clear();
  scales_.clear();
}

void IndexKeys::Append(const float* v) {
  if (storage_ == KvStorage::kCompact) {
    codes_.resize(codes_.size() + size_t(dim_ / 2));
    scales_.resize(scales_.size() + size_t(dim_ / 32));
    EncodeFp4Key(v, dim_, &codes_[codes_.size() - size_t(dim_ / 2)],
                 &scales_[scales_.size() - size_t(dim_ / 32)]);
  } else {
    for (int64_t i = 0; i < dim_; ++i) bf16_.push_back(FloatToBf16(v[i]));
  }
}

SequenceState::SequenceState(const ModelConfig& c, bool with_mtp, KvStorage storage)
    : storage_(storage) {
  const int64_t n = c.num_hidden_layers + (with_mtp ? c.num_nextn_predict_layers : 0);
  layers_.resize(size_t(n));
  for (int64_t l = 0; l < n; ++l) {
    LayerState& s = layers_[size_t(l)];
    s.head_dim = c.head_dim;
    s.window = c.sliding_window;
    s.window_kv.Init(storage, c.head_dim, c.qk_rope_head_dim);
    s.compressed.Init(storage, c.head_dim, c.qk_rope_head_dim);
    const int64_t ratio = c.CompressRatio(l);
    if (ratio > 0) s.compressor.Init(ratio, c.head_dim, ratio == 4 ? 2 : 1);
    if (ratio == 4) {
      s.index_compressor.Init(4, c.index_head_dim, 2);
      s.index_keys.Init(storage, c.index_head_dim);
    }
  }
  Reset();
}

void SequenceState::Reserve(int64_t positions) {
  for (LayerState& s : layers_) {
    if (s.compressor.ratio > 0) s.compressed.Reserve(positions / s.compressor.ratio);
    if (s.index_compressor.ratio > 0) s.index_keys.Reserve(positions / s.index_compressor.ratio);
  }
}

void SequenceState::Reset() {
  for (LayerState& s : layers_) {
    s.window_kv.Assign(s.window);
    s.compressed.Clear();
    s.index_keys.Clear();
    if (s.compressor.ratio) s.compressor.Reset();
    if (s.index_compressor.ratio) s.index_compressor.Reset();
  }
  length_ = 0;
  mtp_length_ = 0;
}

int64_t SequenceState::bytes() const {
  int64_t total = 0;
  for (const LayerState& s : layers_) {
    total += int64_t(s.window_kv.bytes().size() + s.compressed.bytes().size());
    total += s.index_keys.size() * IndexKeys::KeyBytes(s.index_keys.storage(), s.index_keys.dim());
    total += int64_t(s.compressor.cur_kv.size() + s.compressor.prev_kv.size() +
                     s.index_compressor.cur_kv.size() + s.index_compressor.prev_kv.size()) *
             2 * 4;  // kv and score rows, fp32
  }
  return total;
}

}  // namespace dsv4
