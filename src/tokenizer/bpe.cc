#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

namespace dsv4::tokenizer {

Result<BpeModel> BpeModel::Create(std::vector<std::pair<std::string, int32_t>> vocab,
                                  const std::vector<std::pair<std::string, std::string>>& merges) {
  BpeModel m;
  m.by_bytes_.reserve(vocab.size());
  for (auto& [bytes, id] : vocab) {
    if (!m.by_bytes_.emplace(std::move(bytes), id).second) {
      return Status::Fail("duplicate vocabulary entry for id " + std::to_string(id));
    }
  }
  for (int b = 0; b < 256; ++b) {
    const int32_t id = m.Find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    if (id < 0) return Status::Fail("byte-level vocabulary lacks byte " + std::to_string(b));
    m.byte_ids_[b] = id;
  }
  size_t cap = 1;
  while (cap < merges.size() * 2 + 16) cap <<= 1;
  m.table_.assign(cap, Merge{kEmpty, 0, 0});
  m.mask_ = cap - 1;
  m.shift_ = 64 - __builtin_ctzll(cap);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int32_t l = m.Find(left), r = m.Find(right), merged = m.Find(left + right);
    if (l < 0 || r < 0 || merged < 0) {
      return Status::Fail("merge " + std::to_string(rank) +
                          " refers to a token not in the vocabulary");
    }
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
    size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> m.shift_);
    while (m.table_[i].key != kEmpty && m.table_[i].key != key) i = (i + 1) & m.mask_;
    if (m.table_[i].key == key) continue;  // a repeated merge keeps its first (lowest) rank
    m.table_[i] = Merge{key, static_cast<int32_t>(rank), merged};
  }
  m.num_merges_ = merges.size();
  return m;
}

int32_t BpeModel::Find(std::string_view bytes) const {
  auto it = by_bytes_.find(bytes);
  return it == by_bytes_.end() ? -1 : it->second;
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.size() == 1) {
    out->push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
  } else if (word.size() <= 48) {
    EncodeSmall(word, out);
  } else {
    EncodeLarge(word, out);
  }
}

// Short words: repeatedly merge the lowest-ranked adjacent pair (leftmost on ties),
// the same order as a priority queue ordered by (rank, position). Rescanning a short
// array beats heap bookkeeping.
void BpeModel::EncodeSmall(std::string_view word, std::vector<int32_t>* out) const {
  int32_t ids[48];
  int32_t ranks[48];  // rank of the pair (i, i+1), INT32_MAX when none
  int32_t merged[48];
  int n = static_cast<int>(word.size());
  for (int i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<uint8_t>(word[i])];
  auto score = [&](int i) {
    const Merge* m = FindMerge(ids[i], ids[i + 1]);
    ranks[i] = m ? m->rank : INT32_MAX;
    merged[i] = m ? m->merged : -1;
  };
  for (int i = 0; i + 1 < n; ++i) score(i);
  while (n > 1) {
    int best = -1;
    int32_t best_rank = INT32_MAX;
    for (int i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best_rank) {
        best_rank = ranks[i];
        best = i;
      }
    }
    if (best < 0) break;
    ids[best] = merged[best];
    for (int i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best > 0) score(best - 1);
    if (best + 1 < n) score(best);
  }
  out->insert(out->end(), ids, ids + n);
}

// Long words (whitespace runs, minified code, base64): a doubly linked list of
// symbols and a min-heap of candidate pairs with lazy invalidation, O(n log n).
void BpeModel::EncodeLarge(std::string_view word, std::vector<int32_t>* out) const {
  const int n = static_cast<int>(word.size());
  std::vector<int32_t> ids(n), prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    ids[i] = byte_ids_[static_cast<uint8_t>(word[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Cand {
    int32_t rank;
    int32_t pos;   // left symbol index (its original position: ties go leftmost)
    int32_t left;  // ids at push time, to detect stale entries
    int32_t right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int i) {
    if (i < 0 || next[i] < 0) return;
    const Merge* m = FindMerge(ids[i], ids[next[i]]);
    if (m) heap.push(Cand{m->rank, i, ids[i], ids[next[i]]});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int i = c.pos;
    if (ids[i] != c.left || next[i] < 0 || ids[next[i]] != c.right) continue;  // stale
    const int j = next[i];
    ids[i] = FindMerge(c.left, c.right)->merged;
    ids[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  for (int i = 0; i >= 0; i = next[i]) out->push_back(ids[i]);
}

}  // namespace dsv4::tokenizer
