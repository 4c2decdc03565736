// Name/dtype/shape binding of checkpoint tensors (spec §11.2-§11.3). The binder is
// the only place the loader trusts a tensor's layout, so each check says which
// tensor, in which file, was wrong and what was expected.
#include "model/tensor_binder.h"

#include <algorithm>

namespace dsv4 {
namespace {

// "BF16", "BF16 or F32", "BF16, F32 or F8_E4M3".
std::string DTypeList(std::initializer_list<DType> dtypes) {
  std::string s;
  size_t i = 0;
  for (DType d : dtypes) {
    if (i) s += (i + 1 == dtypes.size()) ? " or " : ", ";
    s += DTypeName(d);
    ++i;
  }
  return s;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Block sizes of the shipped formats (spec §11.2).
constexpr int64_t kFp8Block = 128;  // 128x128 ue8m0 blocks
constexpr int64_t kFp4Block = 32;   // 1x32 ue8m0 blocks along K

}  // namespace

const TensorRef& TensorBinder::Require(const std::string& name,
                                       std::initializer_list<DType> dtypes,
                                       const std::vector<int64_t>& shape) {
  const TensorRef* t = ckpt_.Find(name);
  if (!t) throw Error(ckpt_.dir() + ": missing tensor '" + name + "'");
  if (std::find(dtypes.begin(), dtypes.end(), t->dtype) == dtypes.end()) {
    throw Error(t->file + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) +
                ", expected " + DTypeList(dtypes));
  }
  if (t->shape != shape) {
    throw Error(t->file + ": tensor '" + name + "' has shape " + ShapeString(t->shape) +
                ", expected " + ShapeString(shape));
  }
  bound_.insert(name);
  return *t;
}

kernels::WeightMatrix TensorBinder::Linear(const std::string& prefix, int64_t out, int64_t in,
                                           bool allow_fp4) {
  const std::string weight_name = prefix + ".weight";
  const std::string scale_name = prefix + ".scale";
  const TensorRef* weight = ckpt_.Find(weight_name);
  if (!weight) throw Error(ckpt_.dir() + ": missing tensor '" + weight_name + "'");

  kernels::WeightMatrix w;
  w.rows = out;
  w.cols = in;
  switch (weight->dtype) {
    case DType::kBF16:
    case DType::kF32: {
      w.dtype = weight->dtype;
      w.data = Require(weight_name, {weight->dtype}, {out, in}).data;
      // A scale next to a plain weight means the file was converted wrongly (e.g. a
      // dequantised weight with its old scale left behind); using either is a guess.
      if (const TensorRef* scale = ckpt_.Find(scale_name)) {
        throw Error(scale->file + ": tensor '" + scale_name + "' is unexpected: '" + weight_name +
                    "' is " + DTypeName(weight->dtype) + " and takes no scale");
      }
      break;
    }
    case DType::kF8E4M3: {
      w.dtype = DType::kF8E4M3;
      w.data = Require(weight_name, {DType::kF8E4M3}, {out, in}).data;
      w.scale = Require(scale_name, {DType::kF8E8M0},
                        {CeilDiv(out, kFp8Block), CeilDiv(in, kFp8Block)})
                    .data;
      break;
    }
    case DType::kI8: {
      if (!allow_fp4) {
        throw Error(weight->file + ": tensor '" + weight_name + "' has dtype I8, expected " +
                    DTypeList({DType::kBF16, DType::kF32, DType::kF8E4M3}) +
                    " (FP4 weights are only supported for routed experts)");
      }
      // Two e2m1 codes per byte and one scale per 32 inputs: K must split evenly.
      if (in % kFp4Block != 0) {
        throw Error(weight->file + ": tensor '" + weight_name + "' is FP4 (I8) but its input " +
                    "width " + std::to_string(in) + " is not a multiple of 32");
      }
      w.dtype = DType::kI8;
      w.data = Require(weight_name, {DType::kI8}, {out, in / 2}).data;
      w.scale = Require(scale_name, {DType::kF8E8M0}, {out, in / kFp4Block}).data;
      break;
    }
    default: {
      std::initializer_list<DType> ok = {DType::kBF16, DType::kF32, DType::kF8E4M3};
      std::initializer_list<DType> ok_fp4 = {DType::kBF16, DType::kF32, DType::kF8E4M3,
                                             DType::kI8};
      throw Error(weight->file + ": tensor '" + weight_name + "' has dtype " +
                  DTypeName(weight->dtype) + ", expected " + DTypeList(allow_fp4 ? ok_fp4 : ok));
    }
  }
  return w;
}

void TensorBinder::CheckAllBound() const {
  std::string message;
  int count = 0;
  constexpr int kShown = 8;
  for (const auto& [name, t] : ckpt_.tensors()) {
    if (bound_.count(name)) continue;
    if (count++ < kShown) {
      message += (count > 1 ? ", " : "") + std::string("unexpected tensor '") + name + "' (in " +
                 t->file + ")";
    }
  }
  if (count == 0) return;
  if (count > kShown) message += ", ...";
  throw Error(ckpt_.dir() + ": " + std::to_string(count) +
              " checkpoint tensor(s) not used by the model: " + message);
}

}  // namespace dsv4
