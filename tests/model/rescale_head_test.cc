// RescaleHeadBf16 (model/forward/ops.h) against its definition with the squares summed in
// order: its sum (SumOfBf16Squares) takes eight running sums where every addition is
// exact (the terms within 2^44 / n of each other), and must give the in-order sum's bits
// either way; checked on the sum itself, whose last bits the bf16 results mostly hide.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

// The definition: torch's q *= rsqrt(mean(q²) + eps) with bf16 intermediates, the squares
// summed in double in order.
void RescaleInOrder(float* q, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(RoundBf16(q[i] * q[i]));
  const float mean = RoundBf16(float(sum) * float(1.0 / double(n)));
  const float r = RoundBf16(Rsqrt32(RoundBf16(mean + eps)));
  for (int64_t i = 0; i < n; ++i) q[i] = RoundBf16(q[i] * r);
}

void ExpectSame(std::vector<float> q, const char* what) {
  double in_order = 0.0;
  for (float v : q) in_order += double(RoundBf16(v * v));
  const double sum = SumOfBf16Squares(q.data(), int64_t(q.size()));
  ASSERT_EQ(std::memcmp(&sum, &in_order, sizeof sum), 0) << what << ", n " << q.size() << ": " << sum << " vs " << in_order;
  std::vector<float> want = q;
  RescaleInOrder(want.data(), int64_t(want.size()), 1e-6f);
  RescaleHeadBf16(q.data(), int64_t(q.size()), 1e-6f);
  ASSERT_EQ(std::memcmp(q.data(), want.data(), q.size() * sizeof(float)), 0) << what << ", n " << q.size();
}

TEST(RescaleHeadTest, EqualsTheInOrderSumBitForBit) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {1, 7, 64, 128, 512, 513, 2048}) {  // 2048: past the kernel's buffer
    for (int spread : {0, 4, 20, 40, 70}) {               // binades the values span
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<float> q(static_cast<size_t>(n));
        for (float& v : q) v = RoundBf16(normal(rng) * std::ldexp(1.0f, spread ? int(rng() % spread) - spread / 2 : 0));
        if (rep % 5 == 1) q[0] = 0.0f;
        ExpectSame(q, "random");
      }
    }
  }
  // Values whose squares fall below bf16's normal range, and all zeros.
  ExpectSame(std::vector<float>(512, 1e-22f), "subnormal squares");
  std::vector<float> mixed(512, 1e-22f);
  mixed[3] = 1.0f;
  ExpectSame(mixed, "subnormal squares with one large");
  ExpectSame(std::vector<float>(512, 0.0f), "zeros");
}

TEST(RescaleHeadTest, NonFiniteInputsGiveTheInOrderResult) {
  for (float bad : {INFINITY, NAN}) {
    std::vector<float> q(512, 0.5f);
    q[100] = bad;
    std::vector<float> want = q;
    RescaleInOrder(want.data(), 512, 1e-6f);
    RescaleHeadBf16(q.data(), 512, 1e-6f);
    for (size_t i = 0; i < q.size(); ++i) {
      EXPECT_TRUE(q[i] == want[i] || (std::isnan(q[i]) && std::isnan(want[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace dsv4
