// Prefix (context) cache: SequenceState snapshots keyed by the token prefix they
// summarise, so a prompt that starts with a cached prefix skips its prefill.
//
// Granularity: snapshots sit at positions that are multiples of `block` (a multiple of
// the largest compression ratio, 128 for V4), where every compressor has just emitted
// an entry: its "current" partial block is empty, so a snapshot is the window ring, the
// append-only compressed entries and indexer keys, and the overlap compressors' previous
// block (spec §6.6, §13.2). A hit restores a copy and the prompt's remaining tokens are
// prefilled from there; since every row's arithmetic is independent of the chunking,
// logits equal a cold run's bit for bit.
//
// Lookup finds the longest cached prefix through a chain of per-block hashes (then
// compares the tokens, so a hash collision is never a wrong hit). Entries are evicted
// least-recently-used under a byte budget (state bytes + tokens). With a directory, every
// entry is also a file there, reloaded by a new cache on the same model (files of
// another model, or damaged ones, are skipped).
//
// Each snapshot is a full copy; sharing the append-only compressed entries between a
// prefix and its extensions would save memory for long contexts (future work).
// Threading: used by the engine thread only.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "model/forward/state.h"

namespace dsv4 {

struct PrefixCacheOptions {
  int64_t budget_bytes = 0;  // 0 = no prefix cache
  int64_t block = 128;       // snapshot positions are multiples of this
  // Besides the last block boundary of each prompt (and of each finished generation),
  // snapshot every `interval` tokens inside long prompts, so prompts sharing a long
  // prefix but differing later still hit. A multiple of block; 0 = not.
  int64_t interval = 2048;
  bool cache_generated = true;  // snapshot prompt + output at the end of a generation
  std::string directory;        // persist snapshots here; "" = memory only
  // Cache storage of the engine's sequence states (set by the engine from act_quant);
  // persisted snapshots of the other storage are skipped at Load.
  KvStorage storage = KvStorage::kCompact;
};

struct PrefixCacheStats {
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t lookups = 0;
  int64_t hits = 0;
  int64_t hit_tokens = 0;
  int64_t inserts = 0;
  int64_t evictions = 0;
  int64_t loaded = 0;   // entries read from the directory at startup
  int64_t rejected = 0; // files skipped at startup (other model, damaged)
};

class PrefixCache {
 public:
  // `model_identity` names the weights (ModelIdentity()); persisted entries must match.
  PrefixCache(const ModelConfig& config, std::string model_identity, PrefixCacheOptions options);

  // Reads the directory's snapshots (oldest first, within the budget).
  Status Load();

  // Longest cached prefix of `tokens` no longer than max_len: copies its state into
  // *state and returns its length (0 = miss, *state untouched).
  int64_t Lookup(std::span<const int32_t> tokens, int64_t max_len, SequenceState* state);
  // Stores `state`, which has processed exactly `tokens` (a multiple of block long).
  void Insert(std::span<const int32_t> tokens, const SequenceState& state);
  bool Contains(std::span<const int32_t> tokens) const;

  const PrefixCacheStats& stats() const { return stats_; }
  const PrefixCacheOptions& options() const { return options_; }

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::unique_ptr<SequenceState> state;
    int64_t bytes = 0;
    std::list<uint64_t>::iterator lru;  // position in lru_ (front = most recent)
  };
  uint64_t KeyOf(std::span<const int32_t> tokens) const;
  std::string PathOf(uint64_t key) const;
  void Put(uint64_t key, Entry entry, bool write_file);
  void EvictFor(int64_t bytes);

  ModelConfig config_;
  std::string identity_;
  PrefixCacheOptions options_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> lru_;
  PrefixCacheStats stats_;
};

// A short hex digest of config.json and the checkpoint's tensor table (names, dtypes,
// shapes, sizes, first and last bytes of each tensor): cheap, and different for any two
// checkpoints we can tell apart without reading all weights.
class Model;
std::string ModelIdentity(const Model& model);

}  // namespace dsv4
