#include "engine/prefix_cache.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/state_io.h"
#include "model/forward/model.h"

namespace dsv4 {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

}  // namespace

PrefixCache::PrefixCache(const ModelConfig& config, std::string model_identity,
                         PrefixCacheOptions options)
    : config_(config), identity_(std::move(model_identity)), options_(std::move(options)) {
  Require(options_.block > 0, "prefix cache block must be > 0");
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    const int64_t ratio = config_.CompressRatio(l);
    Require(ratio == 0 || options_.block % ratio == 0,
            "prefix cache block " + std::to_string(options_.block) +
                " is not a multiple of compression ratio " + std::to_string(ratio));
  }
  Require(options_.interval % options_.block == 0,
          "prefix cache interval must be a multiple of its block");
}

// Hash chained block by block, so every block-aligned prefix has its own key.
uint64_t PrefixCache::KeyOf(std::span<const int32_t> tokens) const {
  uint64_t h = kFnvOffset;
  for (size_t b = 0; b < tokens.size(); b += size_t(options_.block)) {
    const size_t n = std::min(tokens.size() - b, size_t(options_.block));
    h = Fnv(h, tokens.data() + b, n * sizeof(int32_t));
  }
  return h;
}

std::string PrefixCache::PathOf(uint64_t key) const {
  return options_.directory + "/" + Hex(key) + ".snap";
}

int64_t PrefixCache::Lookup(std::span<const int32_t> tokens, int64_t max_len,
                            SequenceState* state) {
  ++stats_.lookups;
  const int64_t B = options_.block;
  max_len = std::min<int64_t>(max_len, int64_t(tokens.size()));
  uint64_t h = kFnvOffset;
  const Entry* best = nullptr;
  uint64_t best_key = 0;
  for (int64_t end = B; end <= max_len; end += B) {
    h = Fnv(h, tokens.data() + (end - B), size_t(B) * sizeof(int32_t));
    auto it = entries_.find(h);
    if (it == entries_.end()) continue;
    const Entry& e = it->second;
    if (int64_t(e.tokens.size()) == end &&
        std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin())) {
      best = &e;
      best_key = h;
    }
  }
  if (!best) return 0;
  *state = *best->state;
  lru_.splice(lru_.begin(), lru_, best->lru);
  ++stats_.hits;
  stats_.hit_tokens += int64_t(best->tokens.size());
  (void)best_key;
  return int64_t(best->tokens.size());
}

bool PrefixCache::Contains(std::span<const int32_t> tokens) const {
  auto it = entries_.find(KeyOf(tokens));
  return it != entries_.end() && std::equal(it->second.tokens.begin(), it->second.tokens.end(),
                                            tokens.begin(), tokens.end());
}

void PrefixCache::Insert(std::span<const int32_t> tokens, const SequenceState& state) {
  DSV4_CHECK(int64_t(tokens.size()) == state.length());
  DSV4_CHECK(int64_t(tokens.size()) % options_.block == 0);
  if (tokens.empty()) return;
  const uint64_t key = KeyOf(tokens);
  auto it = entries_.find(key);
  if (it != entries_.end() &&
      std::equal(it->second.tokens.begin(), it->second.tokens.end(), tokens.begin(), tokens.end())) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  Entry e;
  e.bytes = state.bytes() + int64_t(tokens.size()) * int64_t(sizeof(int32_t));
  // Checked before copying: a long context's state can be gigabytes.
  if (e.bytes > options_.budget_bytes) return;  // would never fit
  e.tokens.assign(tokens.begin(), tokens.end());
  e.state = std::make_unique<SequenceState>(state);
  ++stats_.inserts;
  Put(key, std::move(e), true);
}

void PrefixCache::EvictFor(int64_t bytes) {
  while (!lru_.empty() && stats_.bytes + bytes > options_.budget_bytes) {
    const uint64_t victim = lru_.back();
    lru_.pop_back();
    auto it = entries_.find(victim);
    stats_.bytes -= it->second.bytes;
    entries_.erase(it);
    ++stats_.evictions;
    if (!options_.directory.empty()) {
      std::error_code ec;
      std::filesystem::remove(PathOf(victim), ec);
    }
  }
}

void PrefixCache::Put(uint64_t key, Entry entry, bool write_file) {
  auto old = entries_.find(key);
  if (old != entries_.end()) {  // a hash collision: the newer prefix wins
    stats_.bytes -= old->second.bytes;
    lru_.erase(old->second.lru);
    entries_.erase(old);
  }
  EvictFor(entry.bytes);
  if (write_file && !options_.directory.empty()) {
    Status s = WriteSnapshot(PathOf(key), {identity_, entry.tokens}, *entry.state);
    if (!s.ok()) std::fprintf(stderr, "prefix cache: %s\n", s.message().c_str());
  }
  lru_.push_front(key);
  entry.lru = lru_.begin();
  stats_.bytes += entry.bytes;
  entries_.emplace(key, std::move(entry));
  stats_.entries = int64_t(entries_.size());
}

Status PrefixCache::Load() {
  if (options_.directory.empty()) return Status::Ok();
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options_.directory, ec);
  if (ec) return Status::Fail("cannot create " + options_.directory + ": " + ec.message());
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  for (const auto& de : fs::directory_iterator(options_.directory, ec)) {
    if (de.is_regular_file() && de.path().extension() == ".snap") {
      files.push_back({de.last_write_time(), de.path()});
    }
  }
  if (ec) return Status::Fail("cannot list " + options_.directory + ": " + ec.message());
  std::sort(files.begin(), files.end());  // oldest first: the newest end up most recent
  for (const auto& [time, path] : files) {
    Snapshot meta;
    auto state = std::make_unique<SequenceState>(config_, false, options_.storage);
    Status s = ReadSnapshot(path.string(), config_, &meta, state.get());
    if (s.ok() && meta.identity != identity_) s = Status::Fail(path.string() + ": another model");
    if (s.ok() && (meta.tokens.empty() || int64_t(meta.tokens.size()) % options_.block != 0 ||
                   path.stem().string() != Hex(KeyOf(meta.tokens)))) {
      s = Status::Fail(path.string() + ": not a snapshot of this cache's layout");
    }
    if (!s.ok()) {
      ++stats_.rejected;
      continue;  // left in place: it may belong to another model sharing the directory
    }
    Entry e;
    e.tokens = std::move(meta.tokens);
    e.state = std::move(state);
    e.bytes = e.state->bytes() + int64_t(e.tokens.size()) * int64_t(sizeof(int32_t));
    if (e.bytes > options_.budget_bytes) continue;
    ++stats_.loaded;
    const uint64_t key = KeyOf(e.tokens);  // before e is moved from
    Put(key, std::move(e), false);
  }
  return Status::Ok();
}

std::string ModelIdentity(const Model& model) {
  uint64_t h = kFnvOffset;
  std::ifstream f(model.checkpoint().dir() + "/config.json", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string config = ss.str();
  h = Fnv(h, config.data(), config.size());
  for (const auto& [name, t] : model.checkpoint().tensors()) {
    h = Fnv(h, name.data(), name.size());
    h = Fnv(h, &t->dtype, sizeof t->dtype);
    h = Fnv(h, t->shape.data(), t->shape.size() * sizeof(int64_t));
    h = Fnv(h, &t->nbytes, sizeof t->nbytes);
    const size_t n = std::min<size_t>(t->nbytes, 64);
    h = Fnv(h, t->data, n);
    h = Fnv(h, t->data + (t->nbytes - n), n);
  }
  return Hex(h);
}

}  // namespace dsv4
