// Binds checkpoint tensors to the model by name, checking dtype and shape against
// what the config implies, and afterwards that no tensor was left unbound.
// Every failure throws dsv4::Error naming the tensor and its shard file.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "model/checkpoint.h"

namespace dsv4 {

class TensorBinder {
 public:
  explicit TensorBinder(const Checkpoint& checkpoint) : ckpt_(checkpoint) {}

  // The tensor `name`, which must exist with one of `dtypes` and exactly `shape`.
  const TensorRef& Require(const std::string& name, std::initializer_list<DType> dtypes,
                           const std::vector<int64_t>& shape);

  // A linear layer `prefix`.weight of logical shape [out, in] in any supported format:
  // BF16 or F32 (no scale tensor), F8_E4M3 with `prefix`.scale F8_E8M0
  // [ceil(out/128), ceil(in/128)], or (allow_fp4) I8 [out, in/2] with `prefix`.scale
  // F8_E8M0 [out, in/32].
  kernels::WeightMatrix Linear(const std::string& prefix, int64_t out, int64_t in,
                               bool allow_fp4);

  // Throws if any checkpoint tensor was never bound (lists the first few by name).
  void CheckAllBound() const;

 private:
  const Checkpoint& ckpt_;
  std::set<std::string> bound_;
};

}  // namespace dsv4
