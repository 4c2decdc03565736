// Compact (FP8 / FP4) cache storage: the codecs are exact on the reference's
// quantisation grids, and a model run on compact caches gives the same logits as on bf16
// caches, bit for bit, in precise and fast mode; its memory follows the cost formula.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/precision.h"
#include "model/forward/costs.h"
#include "model/forward/kv_codec.h"
#include "model/forward/model.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/";

std::vector<float> RandomBf16(int64_t n, float spread, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = RoundBf16(normal(rng) * spread);
  return v;
}

TEST(KvCodecTest, Fp8EntryIsExactOnTheQ8Grid) {
  EXPECT_EQ(Fp8EntryBytes(512, 64), 584);  // spec §13.3
  std::mt19937 rng(1);
  for (float spread : {1e-6f, 0.01f, 1.0f, 300.0f}) {
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<float> v = RandomBf16(512, spread, rng);
      if (rep % 7 == 0) std::fill(v.begin() + 64, v.begin() + 128, 0.0f);  // an all-zero block
      SimulateFp8Blocks(v.data(), 448, 64);
      std::vector<uint8_t> bytes(584);
      EncodeFp8Entry(v.data(), 512, 64, bytes.data());
      std::vector<uint16_t> back(512);
      DecodeFp8Entry(bytes.data(), 512, 64, back.data());
      for (int i = 0; i < 512; ++i) ASSERT_EQ(back[size_t(i)], FloatToBf16(v[size_t(i)])) << i;
    }
  }
}

TEST(KvCodecTest, Fp4KeyIsExactOnTheQ4Grid) {
  std::mt19937 rng(2);
  for (float spread : {1e-5f, 0.3f, 5.0f}) {
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<float> v = RandomBf16(128, spread, rng);
      SimulateFp4Blocks(v.data(), 128, 32);
      std::vector<uint8_t> codes(64), scales(4);
      EncodeFp4Key(v.data(), 128, codes.data(), scales.data());
      std::vector<float> back(128);
      DecodeFp4Key(codes.data(), scales.data(), 128, back.data());
      for (int i = 0; i < 128; ++i) ASSERT_EQ(back[size_t(i)], v[size_t(i)]) << i;
    }
  }
}

TEST(KvCodecTest, ValuesOffTheGridAreRefused) {
  std::vector<float> v(512, 1.0f);
  v[3] = 1.0625f;  // bf16, but not e4m3 at this block's scale
  std::vector<uint8_t> bytes(584);
  EXPECT_THROW(EncodeFp8Entry(v.data(), 512, 64, bytes.data()), Error);
  std::vector<float> k(128, 1.0f);
  k[5] = 1.25f;  // not e2m1 times a power of two shared with 1.0
  std::vector<uint8_t> codes(64), scales(4);
  EXPECT_THROW(EncodeFp4Key(k.data(), 128, codes.data(), scales.data()), Error);
}

class CompactCacheTest : public testing::TestWithParam<std::string> {};

// Prefill in chunks, then decode: logits of every position.
std::vector<float> RunAll(const Model& model, KvStorage storage, const std::vector<int32_t>& tokens,
                       int64_t* bytes_out) {
  auto state = model.NewState(false, storage);
  std::vector<float> all;
  const size_t prefill = tokens.size() - 20, chunk = 64;
  for (size_t b = 0; b < tokens.size();) {
    const size_t n = b < prefill ? std::min(chunk, prefill - b) : 1;
    std::vector<float> rows;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens.assign(tokens.begin() + long(b), tokens.begin() + long(b + n));
    segs[0].all_logits = true;
    segs[0].logits = &rows;
    model.Forward(segs, {});
    all.insert(all.end(), rows.begin(), rows.end());
    b += n;
  }
  *bytes_out = state->bytes();
  return all;
}

TEST_P(CompactCacheTest, SameLogitsAsBf16CachesAndFormulaBytes) {
  auto loaded = Model::Load(kFixtures + GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  const Model& model = *loaded.value();
  std::mt19937 rng(5);
  std::vector<int32_t> tokens(300);
  for (int32_t& t : tokens) t = int32_t(rng() % uint32_t(model.config().vocab_size));
  for (bool precise : {true, false}) {
    kernels::SetPreciseMath(precise);
    int64_t compact_bytes = 0, bf16_bytes = 0;
    const std::vector<float> compact = RunAll(model, KvStorage::kCompact, tokens, &compact_bytes);
    const std::vector<float> bf16 = RunAll(model, KvStorage::kBf16, tokens, &bf16_bytes);
    ASSERT_EQ(compact.size(), bf16.size());
    for (size_t i = 0; i < compact.size(); ++i) {
      ASSERT_EQ(compact[i], bf16[i]) << "logit " << i << (precise ? " (precise)" : " (fast)");
    }
    EXPECT_EQ(compact_bytes, KvBytesAt(model.config(), 300, KvStorage::kCompact));
    EXPECT_EQ(bf16_bytes, KvBytesAt(model.config(), 300, KvStorage::kBf16));
    EXPECT_LT(compact_bytes, bf16_bytes);
  }
  kernels::SetPreciseMath(false);
}

TEST_P(CompactCacheTest, CompactCachesNeedActivationQuantisation) {
  auto loaded = Model::Load(kFixtures + GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  auto state = loaded.value()->NewState(false, KvStorage::kCompact);
  std::vector<ForwardSegment> segs(1);
  segs[0].state = state.get();
  segs[0].tokens = {2, 3, 4};
  EXPECT_THROW(loaded.value()->Forward(segs, {.act_quant = false}), Error);
  EXPECT_EQ(state->length(), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, CompactCacheTest, testing::Values("tiny-bf16", "tiny-fp8"));

}  // namespace
}  // namespace dsv4
