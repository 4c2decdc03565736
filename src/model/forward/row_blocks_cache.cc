#include "model/forward/row_blocks_cache.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/cache_dir.h"
#include "core/derived_file.h"
#include "core/env_switch.h"
#include "kernels/bf16_row_blocks.h"

namespace dsv4 {
namespace {

// The first line of every key: the blocked layout and its version (change it whenever
// PackBf16RowBlocks' layout changes; the block height is in the key by itself).
constexpr char kLayout[] = "dsv4 bf16 row blocks v1: k pairs, rows per block ";
constexpr char kCheckpointTag[] = "checkpoint ";
constexpr char kExtension[] = ".bf16blocks";

uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string CanonicalDir(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir : p.string();
}

std::string ShardIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "shard " + path + " unreadable";
  return "shard " + path + " size " + std::to_string(st.st_size) + " mtime " + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec) + " inode " + std::to_string(st.st_ino) + " dev " +
         std::to_string(st.st_dev);
}

}  // namespace

RowBlocksCacheOptions RowBlocksCacheOptionsFromEnv() {
  RowBlocksCacheOptions o;
  o.enabled = EnvSwitch("DSV4_PACK_CACHE", true);
  return o;
}

std::string RowBlocksCachePath(const Checkpoint& checkpoint, const RowBlocksCacheOptions& options) {
  const std::string dir = options.dir.empty() ? DefaultCacheDir() + "/packed" : options.dir;
  char name[32];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(Fnv1a64(CanonicalDir(checkpoint.dir()))));
  return dir + "/" + name + kExtension;
}

std::string RowBlocksCacheKey(const Checkpoint& checkpoint, const std::vector<const kernels::WeightMatrix*>& matrices) {
  std::map<const uint8_t*, const TensorRef*> by_data;
  for (const auto& [name, t] : checkpoint.tensors()) by_data[t->data] = t;
  std::string key = std::string(kLayout) + std::to_string(kernels::kRowBlockRows) + "\n" + kCheckpointTag +
                    CanonicalDir(checkpoint.dir()) + "\n";
  std::set<std::string> shards;
  for (const kernels::WeightMatrix* m : matrices) {
    const auto it = by_data.find(m->data);
    const std::string name = it == by_data.end() ? "(not a checkpoint tensor)" : it->second->name;
    const std::string file = it == by_data.end() ? "" : it->second->file;
    key += "matrix " + name + " " + std::to_string(m->rows) + "x" + std::to_string(m->cols) + " in " + file + "\n";
    if (!file.empty()) shards.insert(file);
  }
  for (const std::string& file : shards) key += ShardIdentity(file) + "\n";
  return key;
}

bool RowBlocksMatchSources(const std::vector<const kernels::WeightMatrix*>& matrices, const uint16_t* blocks) {
  uint64_t lcg = 0x9E3779B97F4A7C15ull;
  for (const kernels::WeightMatrix* m : matrices) {
    const int64_t N = m->rows, K = m->cols;
    const auto* w = reinterpret_cast<const uint8_t*>(m->data);
    auto matches = [&](int64_t r, int64_t k) {
      uint16_t source;
      std::memcpy(&source, w + (r * K + k) * 2, 2);  // a row may sit at any 2-byte offset
      const int64_t b = r / kernels::kRowBlockRows, lane = r % kernels::kRowBlockRows;
      return blocks[b * kernels::kRowBlockRows * K + (k / 2) * kernels::kRowBlockRows * 2 + lane * 2 + k % 2] == source;
    };
    if (!matches(0, 0) || !matches(N - 1, K - 1)) return false;
    for (int i = 0; i < 14; ++i) {
      lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
      const uint64_t v = lcg >> 16;
      if (!matches(int64_t(v % uint64_t(N)), int64_t((v / uint64_t(N)) % uint64_t(K)))) return false;
    }
    blocks += kernels::RowBlocksElements(N, K);
  }
  return true;
}

void PruneOrphanRowBlocks(const std::string& dir, const std::string& keep) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string path = entry.path().string();
    if (path == keep || entry.path().extension() != kExtension) continue;
    const std::optional<std::string> key = DerivedFile::ReadKey(path);
    if (!key) continue;
    const size_t at = key->find(std::string("\n") + kCheckpointTag);
    if (at == std::string::npos) continue;
    const size_t begin = at + 1 + std::strlen(kCheckpointTag);
    const std::string checkpoint_dir = key->substr(begin, key->find('\n', begin) - begin);
    std::error_code exists_ec;
    if (!std::filesystem::exists(checkpoint_dir, exists_ec) && !exists_ec) std::filesystem::remove(path, exists_ec);
  }
}

}  // namespace dsv4
