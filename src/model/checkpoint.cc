// Safetensors shards and checkpoint directories (spec §11.1). Every byte of a header
// is untrusted: all offsets and sizes are checked (with overflow-safe arithmetic)
// before a TensorRef may point into the map, so a bad file yields an error naming
// the file and tensor instead of a crash later in a kernel.
#include "model/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dsv4 {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Real shard headers are well under 10 MB (Pro's largest holds a few thousand
// entries); the safetensors crate refuses headers over 100 MB, and so do we, so a
// corrupt length cannot make us parse gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const char* kSupportedDTypes = "BF16, F32, F8_E4M3, F8_E8M0, I8, I64";

// A non-negative JSON integer, or throws naming `what`.
uint64_t ToUnsigned(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) throw Error(what + " is negative (" + v.dump() + ")");
  throw Error(what + " must be an integer, got " + std::string(v.type_name()));
}

// One parsed header entry, before it becomes a TensorRef.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

Entry ParseEntry(const std::string& path, const std::string& name, const json& e) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!e.is_object()) {
    throw Error(where + ": header entry must be an object, got " + std::string(e.type_name()));
  }
  Entry out;
  out.name = name;
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) throw Error(where + ": missing or non-string 'dtype'");
  if (!ParseDType(dt->get<std::string>(), &out.dtype)) {
    throw Error(where + " has unknown dtype '" + dt->get<std::string>() + "' (supported: " +
                kSupportedDTypes + ")");
  }
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) throw Error(where + ": missing or non-array 'shape'");
  for (size_t i = 0; i < sh->size(); ++i) {
    uint64_t d = ToUnsigned((*sh)[i], where + ": shape[" + std::to_string(i) + "]");
    if (d > uint64_t(INT64_MAX)) throw Error(where + ": shape[" + std::to_string(i) + "] too large");
    out.shape.push_back(int64_t(d));
  }
  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2) {
    throw Error(where + ": missing 'data_offsets' or not a [begin, end] pair");
  }
  out.begin = ToUnsigned((*off)[0], where + ": data_offsets[0]");
  out.end = ToUnsigned((*off)[1], where + ": data_offsets[1]");
  if (out.begin > out.end) {
    throw Error(where + ": data_offsets [" + std::to_string(out.begin) + ", " +
                std::to_string(out.end) + "] have begin > end");
  }
  return out;
}

// numel * dtype size, or false on overflow (a hostile shape must not wrap around).
bool ByteSize(const Entry& e, uint64_t* bytes) {
  uint64_t n = DTypeSize(e.dtype);
  for (int64_t d : e.shape) {
    if (__builtin_mul_overflow(n, uint64_t(d), &n)) return false;
  }
  *bytes = n;
  return true;
}

// Parses the header while recording top-level keys, because nlohmann silently keeps
// the last of duplicate keys and a duplicated tensor name would hide a tensor.
json ParseHeader(const std::string& path, const char* begin, const char* end) {
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(begin, end, on_event);
  } catch (const json::exception& e) {
    throw Error(path + ": malformed safetensors header JSON: " + e.what());
  }
  if (!duplicate.empty()) throw Error(path + ": tensor '" + duplicate + "' appears twice");
  if (!header.is_object()) {
    throw Error(path + ": safetensors header must be a JSON object, got " +
                std::string(header.type_name()));
  }
  return header;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  using R = Result<std::unique_ptr<SafetensorsFile>>;
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return R(mapped.status());
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->map_ = std::move(mapped.value());
  const uint8_t* bytes = file->map_->data();
  const uint64_t size = file->map_->size();
  try {
    if (size < 8) {
      throw Error(path + ": file is " + std::to_string(size) +
                  " bytes, too short for a safetensors header");
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
    if (header_len > size - 8) {
      throw Error(path + ": header length " + std::to_string(header_len) +
                  " runs past the end of the file (" + std::to_string(size) +
                  " bytes; truncated or not a safetensors file)");
    }
    if (header_len > kMaxHeaderBytes) {
      throw Error(path + ": header length " + std::to_string(header_len) + " is implausibly large");
    }
    const char* text = reinterpret_cast<const char*>(bytes + 8);
    json header = ParseHeader(path, text, text + header_len);

    const uint8_t* data = bytes + 8 + header_len;
    const uint64_t data_size = size - 8 - header_len;
    std::vector<Entry> entries;
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        if (!it->is_object()) throw Error(path + ": '__metadata__' must be an object");
        continue;  // free-form string pairs; nothing the engine needs
      }
      Entry e = ParseEntry(path, it.key(), it.value());
      const std::string where = path + ": tensor '" + e.name + "'";
      const std::string range =
          "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
      if (e.end > data_size) {
        throw Error(where + " data_offsets " + range + " run past the end of the data (" +
                    std::to_string(data_size) + " bytes; truncated shard?)");
      }
      uint64_t expected = 0;
      if (!ByteSize(e, &expected)) {
        throw Error(where + " has shape " + ShapeString(e.shape) + " whose size overflows");
      }
      if (e.end - e.begin != expected) {
        throw Error(where + " data_offsets " + range + " hold " + std::to_string(e.end - e.begin) +
                    " bytes, but " + DTypeName(e.dtype) + " " + ShapeString(e.shape) + " needs " +
                    std::to_string(expected));
      }
      entries.push_back(std::move(e));
    }
    // Overlap check in file order; gaps are allowed (alignment padding). Empty tensors
    // occupy no bytes and cannot overlap anything.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
      if (e.begin == e.end) continue;
      if (prev && e.begin < prev->end) {
        throw Error(path + ": tensors '" + prev->name + "' [" + std::to_string(prev->begin) +
                    ", " + std::to_string(prev->end) + "] and '" + e.name + "' [" +
                    std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    "] have overlapping data_offsets");
      }
      prev = &e;
    }
    file->tensors_.reserve(entries.size());
    for (Entry& e : entries) {
      TensorRef t;
      t.name = std::move(e.name);
      t.file = path;
      t.dtype = e.dtype;
      t.shape = std::move(e.shape);
      t.data = data + e.begin;
      t.nbytes = size_t(e.end - e.begin);
      file->tensors_.push_back(std::move(t));
    }
  } catch (const Error& e) {
    return R::Fail(e.what());
  } catch (const json::exception& e) {  // defensive: types are checked before use
    return R::Fail(path + ": " + e.what());
  }
  return file;
}

namespace {

// Reads model.safetensors.index.json: weight_map tensor -> shard file name.
std::map<std::string, std::string> ReadWeightMap(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw Error(index_path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  json index;
  try {
    index = json::parse(text.str());
  } catch (const json::exception& e) {
    throw Error(index_path + ": invalid JSON: " + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(index_path + ": missing object 'weight_map'");
  }
  std::map<std::string, std::string> weight_map;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it->is_string()) {
      throw Error(index_path + ": weight_map entry for tensor '" + it.key() +
                  "' must be a shard file name (string)");
    }
    weight_map[it.key()] = it->get<std::string>();
  }
  return weight_map;
}

// Appends up to kShown problems to a message, then the total count.
class ProblemList {
 public:
  void Add(const std::string& problem) {
    if (count_++ < kShown) text_ += (count_ > 1 ? "; " : "") + problem;
  }
  bool empty() const { return count_ == 0; }
  std::string str() const {
    return count_ > kShown ? text_ + "; ... (" + std::to_string(count_) + " in total)" : text_;
  }

 private:
  static constexpr int kShown = 5;
  int count_ = 0;
  std::string text_;
};

}  // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  using R = Result<std::unique_ptr<Checkpoint>>;
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->dir_ = dir;
  try {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw Error(dir + ": checkpoint directory does not exist");
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a directory");

    auto open_shard = [&](const std::string& path) {
      auto shard = SafetensorsFile::Open(path);
      if (!shard.ok()) throw Error(shard.error());
      ckpt->files_.push_back(std::move(shard.value()));
    };

    const std::string index_path = JoinPath(dir, "model.safetensors.index.json");
    std::map<std::string, std::string> weight_map;  // empty unless sharded
    std::map<std::string, size_t> shard_of;          // shard file name -> files_ index
    if (fs::exists(index_path, ec)) {
      weight_map = ReadWeightMap(index_path);
      for (const auto& [tensor, shard] : weight_map) {
        if (shard_of.count(shard)) continue;
        const std::string path = JoinPath(dir, shard);
        if (!fs::is_regular_file(path, ec)) {
          throw Error(index_path + ": shard '" + shard + "' (named for tensor '" + tensor +
                      "') does not exist in " + dir);
        }
        shard_of[shard] = ckpt->files_.size();
        open_shard(path);
      }
      if (ckpt->files_.empty()) throw Error(index_path + ": 'weight_map' is empty");
    } else if (fs::exists(JoinPath(dir, "model.safetensors"), ec)) {
      open_shard(JoinPath(dir, "model.safetensors"));
    } else {
      std::vector<std::string> paths;
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".safetensors") paths.push_back(entry.path().string());
      }
      if (paths.empty()) throw Error("no safetensors checkpoint in " + dir);
      std::sort(paths.begin(), paths.end());  // deterministic order for messages
      for (const std::string& path : paths) open_shard(path);
    }

    // Names are unique across the whole checkpoint.
    for (const auto& file : ckpt->files_) {
      for (const TensorRef& t : file->tensors()) {
        auto [it, inserted] = ckpt->by_name_.emplace(t.name, &t);
        if (!inserted) {
          throw Error(dir + ": tensor '" + t.name + "' appears in both " + it->second->file +
                      " and " + t.file);
        }
      }
    }

    // The index and the shards must agree exactly: a tensor in a shard but absent from
    // the index (or the reverse) means a mixed-up download.
    if (!weight_map.empty()) {
      ProblemList problems;
      for (const auto& [name, shard] : weight_map) {
        const TensorRef* t = ckpt->Find(name);
        const std::string expected = JoinPath(dir, shard);
        if (!t) {
          problems.Add("tensor '" + name + "' is mapped to '" + shard + "' but is not in it");
        } else if (t->file != expected) {
          problems.Add("tensor '" + name + "' is mapped to '" + shard + "' but is in " + t->file);
        }
      }
      for (const auto& [name, t] : ckpt->by_name_) {
        if (!weight_map.count(name)) {
          problems.Add("tensor '" + name + "' in " + t->file + " is not listed in the index");
        }
      }
      if (!problems.empty()) {
        throw Error(index_path + " does not match its shards: " + problems.str());
      }
    }
  } catch (const Error& e) {
    return R::Fail(e.what());
  } catch (const std::exception& e) {  // filesystem errors (permissions, races)
    return R::Fail(dir + ": " + e.what());
  }
  return ckpt;
}

const TensorRef* Checkpoint::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

int64_t Checkpoint::total_bytes() const {
  int64_t total = 0;
  for (const auto& [name, t] : by_name_) total += int64_t(t->nbytes);
  return total;
}

}  // namespace dsv4
