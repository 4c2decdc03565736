// Random weight matrices with owned storage for the kernel tests (linear_test,
// linear_amx_batch_test): bf16 / f32 values ~ N(0, 0.05), FP8 e4m3 codes without NaN and
// FP4 bytes uniform, their ue8m0 scales 2^-5 .. 2^3 (FP8 per 128 x 128 block, FP4 per 32).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"

namespace dsv4::kernels {

// A weight matrix with owned storage.
struct TestWeights {
  std::vector<uint8_t> data;
  std::vector<uint8_t> scale;
  WeightMatrix m;
};

inline TestWeights MakeWeights(DType dtype, int64_t N, int64_t K, std::mt19937& rng) {
  TestWeights t;
  t.m.dtype = dtype;
  t.m.rows = N;
  t.m.cols = K;
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::uniform_int_distribution<int> scale_exp(122, 130);  // ue8m0 2^-5 .. 2^3
  switch (dtype) {
    case DType::kBF16: {
      t.data.resize(size_t(N * K * 2));
      for (int64_t i = 0; i < N * K; ++i) {
        uint16_t b = FloatToBf16(dist(rng));
        std::memcpy(&t.data[size_t(2 * i)], &b, 2);
      }
      break;
    }
    case DType::kF32: {
      t.data.resize(size_t(N * K * 4));
      for (int64_t i = 0; i < N * K; ++i) {
        float f = dist(rng);
        std::memcpy(&t.data[size_t(4 * i)], &f, 4);
      }
      break;
    }
    case DType::kF8E4M3: {
      t.data.resize(size_t(N * K));
      for (auto& c : t.data) {
        do c = uint8_t(rng());
        while ((c & 0x7F) == 0x7F);  // no NaN codes
      }
      t.scale.resize(size_t(((N + 127) / 128) * ((K + 127) / 128)));
      for (auto& s : t.scale) s = uint8_t(scale_exp(rng));
      break;
    }
    case DType::kI8: {
      t.data.resize(size_t(N * K / 2));
      for (auto& c : t.data) c = uint8_t(rng());
      t.scale.resize(size_t(N * (K / 32)));
      for (auto& s : t.scale) s = uint8_t(scale_exp(rng));
      break;
    }
    default:
      ADD_FAILURE() << "unsupported dtype";
  }
  t.m.data = t.data.data();
  t.m.scale = t.scale.empty() ? nullptr : t.scale.data();
  return t;
}

}  // namespace dsv4::kernels
