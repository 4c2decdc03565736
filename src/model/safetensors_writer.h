// Writes .safetensors files (8-byte little-endian header length, JSON header, data),
// streaming each tensor's bytes from a callback so multi-GB files never sit in memory.
// Used for synthetic benchmark checkpoints and by tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace dsv4 {

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  // Fills `out` (nbytes of the tensor) with its data.
  std::function<void(uint8_t* out, size_t nbytes)> fill;
  size_t nbytes() const;
};

// Writes `tensors` to `path` (offsets 8-byte aligned). Throws Error on I/O failure.
void WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& tensors);

}  // namespace dsv4
