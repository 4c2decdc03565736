#include "engine/state_io.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"

namespace dsv4 {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '4', 'P', 'F', 'X', '2'};

class Writer {
 public:
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void I64(int64_t v) { Bytes(&v, sizeof v); }
  template <typename T>
  void Vec(const std::vector<T>& v) {
    I64(int64_t(v.size()));
    Bytes(v.data(), v.size() * sizeof(T));
  }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

// Bounds-checked reads; any failure throws Error (caught in ReadSnapshot).
class Reader {
 public:
  explicit Reader(const std::string& data) : data_(data) {}
  void Bytes(void* p, size_t n) {
    Require(n <= data_.size() - pos_, "snapshot file is truncated");
    std::memcpy(p, data_.data() + pos_, n);
    pos_ += n;
  }
  int64_t I64() {
    int64_t v;
    Bytes(&v, sizeof v);
    return v;
  }
  // A vector that must hold exactly `expected` elements.
  template <typename T>
  void Vec(std::vector<T>* v, int64_t expected, const char* what) {
    const int64_t n = I64();
    Require(n == expected, std::string("snapshot ") + what + " has " + std::to_string(n) +
                               " elements, the model needs " + std::to_string(expected));
    v->resize(size_t(n));
    Bytes(v->data(), size_t(n) * sizeof(T));
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

void WriteCompressor(Writer& w, const CompressorState& c) {
  w.I64(c.ratio);
  w.I64(c.dim);
  w.I64(c.coff);
  w.Vec(c.cur_kv);
  w.Vec(c.cur_score);
  w.Vec(c.prev_kv);
  w.Vec(c.prev_score);
}

void ReadCompressor(Reader& r, CompressorState* c) {
  Require(r.I64() == c->ratio && r.I64() == c->dim && r.I64() == c->coff,
          "snapshot compressor shape differs from the model's");
  r.Vec(&c->cur_kv, int64_t(c->cur_kv.size()), "compressor rows");
  r.Vec(&c->cur_score, int64_t(c->cur_score.size()), "compressor scores");
  r.Vec(&c->prev_kv, int64_t(c->prev_kv.size()), "compressor previous rows");
  r.Vec(&c->prev_score, int64_t(c->prev_score.size()), "compressor previous scores");
}

}  // namespace

Status WriteSnapshot(const std::string& path, const Snapshot& meta, const SequenceState& state) {
  Writer w;
  w.Bytes(kMagic, sizeof kMagic);
  w.I64(int64_t(meta.identity.size()));
  w.Bytes(meta.identity.data(), meta.identity.size());
  w.Vec(meta.tokens);
  w.I64(state.length());
  w.I64(int64_t(state.storage()));
  w.I64(state.num_layers());
  for (int64_t l = 0; l < state.num_layers(); ++l) {
    const LayerState& s = state.layer(l);
    w.Vec(s.window_kv.bytes());
    w.Vec(s.compressed.bytes());
    w.Vec(s.index_keys.bf16());
    w.Vec(s.index_keys.codes());
    w.Vec(s.index_keys.scales());
    WriteCompressor(w, s.compressor);
    WriteCompressor(w, s.index_compressor);
  }
  // Not durable: a snapshot is read through and validated before use, and fdatasync here
  // would be latency on the engine thread.
  const FilePiece piece{0, w.data().data(), w.data().size()};
  return WriteFileAtomically(path, {&piece, 1}, /*durable=*/false);
}

Status ReadSnapshot(const std::string& path, const ModelConfig& config, Snapshot* meta,
                    SequenceState* state) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Fail("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string data = ss.str();
  try {
    Reader r(data);
    char magic[8];
    r.Bytes(magic, sizeof magic);
    Require(std::memcmp(magic, kMagic, sizeof kMagic) == 0, "not a dsv4 prefix snapshot");
    const int64_t id_len = r.I64();
    Require(id_len >= 0 && id_len < 4096, "bad identity length");
    meta->identity.resize(size_t(id_len));
    r.Bytes(meta->identity.data(), size_t(id_len));
    const int64_t n_tokens = r.I64();
    Require(n_tokens >= 0 && n_tokens <= config.max_position_embeddings, "bad token count");
    meta->tokens.resize(size_t(n_tokens));
    r.Bytes(meta->tokens.data(), size_t(n_tokens) * sizeof(int32_t));
    const int64_t length = r.I64();
    Require(length == n_tokens, "snapshot length differs from its token count");
    state->Reset();
    Require(r.I64() == int64_t(state->storage()),
            "snapshot cache storage (bf16 / compact) differs from the sequence's");
    const bool compact = state->storage() == KvStorage::kCompact;
    Require(r.I64() == state->num_layers(), "snapshot layer count differs from the model's");
    for (int64_t l = 0; l < state->num_layers(); ++l) {
      LayerState& s = state->layer(l);
      const int64_t ratio = config.CompressRatio(l);
      const int64_t keys = ratio == 4 ? length / 4 : 0, hd = config.index_head_dim;
      r.Vec(&s.window_kv.bytes(), int64_t(s.window_kv.bytes().size()), "window");
      r.Vec(&s.compressed.bytes(), ratio ? (length / ratio) * s.compressed.entry_bytes() : 0,
            "compressed entries");
      r.Vec(&s.index_keys.bf16(), compact ? 0 : keys * hd, "indexer keys");
      r.Vec(&s.index_keys.codes(), compact ? keys * hd / 2 : 0, "indexer key codes");
      r.Vec(&s.index_keys.scales(), compact ? keys * hd / 32 : 0, "indexer key scales");
      ReadCompressor(r, &s.compressor);
      ReadCompressor(r, &s.index_compressor);
    }
    Require(r.done(), "snapshot has trailing bytes");
    state->set_length(length);
  } catch (const Error& e) {
    state->Reset();
    return Status::Fail(path + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace dsv4
