// A Hugging Face safetensors checkpoint directory as DeepSeek ships it (spec §11):
// config.json plus either model.safetensors or shards listed by
// model.safetensors.index.json. Shards are memory-mapped; tensors are used in place
// (the model repacks its BF16 matrices at their first load and caches the copy:
// Model::PackRowBlocks, model/forward/row_blocks_cache.h).
// Ownership: Checkpoint owns the maps; TensorRef pointers live as long as it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace dsv4 {

struct TensorRef {
  std::string name;
  std::string file;  // the shard's path, for messages
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the shard's map
  size_t nbytes = 0;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::string ShapeString(const std::vector<int64_t>& shape);  // "[4, 16]"

// One .safetensors file: header parsed and validated (offsets in range, contiguous,
// non-overlapping, sizes matching dtype x shape).
class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  const std::vector<TensorRef>& tensors() const { return tensors_; }
  const MappedFile& map() const { return *map_; }

 private:
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorRef> tensors_;
};

class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const TensorRef* Find(std::string_view name) const;
  const std::map<std::string, const TensorRef*, std::less<>>& tensors() const { return by_name_; }
  int64_t total_bytes() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorRef*, std::less<>> by_name_;
};

}  // namespace dsv4
