// Synthetic official-format checkpoints load and run; with them, a window larger than the
// reference kernel's 64-slot blocks shows that the engine's rows do not depend on chunking.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "model/forward/eval.h"
#include "model/synthetic_checkpoint.h"
#include "synthetic_configs.h"

namespace dsv4 {
namespace {

TEST(SyntheticCheckpointTest, LoadsRunsAndChunkingIsInvariant) {
  const std::string dir = testing::TempDir() + "/dsv4_synthetic";
  std::filesystem::remove_all(dir);
  WriteSyntheticCheckpoint(dir, SmallSyntheticConfig(100), 42);
  auto loaded = Model::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  const Model& model = *loaded.value();
  EXPECT_TRUE(model.has_mtp());
  std::mt19937 rng(3);
  std::vector<int32_t> tokens(260);
  for (int32_t& t : tokens) t = int32_t(rng() % 300);
  EvalOptions whole;
  whole.all_positions = true;
  whole.forward.reference_prefill_layout = false;  // the engine's layout
  std::vector<float> a = EvalLogits(model, tokens, whole);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  // Queries see up to 100 window keys + 16 selected + 2 HCA entries: several 64-slot
  // blocks, so only a chunk-independent layout gives identical rows.
  for (int64_t chunk : {1, 37}) {
    EvalOptions chunked = whole;
    chunked.chunk = chunk;
    EXPECT_EQ(EvalLogits(model, tokens, chunked), a) << "chunk " << chunk;
  }
  std::vector<float> mtp = EvalMtpLogits(model, {1, 2, 3, 4}, whole);
  EXPECT_EQ(int64_t(mtp.size()), 3 * model.config().vocab_size);
}

// Widths that are multiples of 512 put the FP8 and FP4 products in tile order on CPUs
// with AMX (kernels/tile_order.h): chunks of 1 token take its FMA kernels, chunks of 37
// and the whole prompt the AMX tiles for the dense layers and a mix for the experts, and
// all must give the same bits (elsewhere this runs the other kernels, invariant too).
TEST(SyntheticCheckpointTest, TileOrderWidthsAreChunkInvariant) {
  const std::string dir = testing::TempDir() + "/dsv4_synthetic_wide";
  std::filesystem::remove_all(dir);
  WriteSyntheticCheckpoint(dir, WideSyntheticConfig(64), 43);
  auto loaded = Model::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  std::mt19937 rng(4);
  std::vector<int32_t> tokens(90);
  for (int32_t& t : tokens) t = int32_t(rng() % 300);
  EvalOptions whole;
  whole.all_positions = true;
  whole.forward.reference_prefill_layout = false;
  const std::vector<float> a = EvalLogits(*loaded.value(), tokens, whole);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  for (int64_t chunk : {1, 37}) {
    EvalOptions chunked = whole;
    chunked.chunk = chunk;
    EXPECT_EQ(EvalLogits(*loaded.value(), tokens, chunked), a) << "chunk " << chunk;
  }
}

// A checkpoint whose config announces an MTP layer but which ships none (some
// re-packagings drop it) still serves; only the MTP features report its absence.
TEST(SyntheticCheckpointTest, MissingMtpBlockIsReportedNotFatal) {
  const std::string dir = testing::TempDir() + "/dsv4_synthetic_nomtp";
  std::filesystem::remove_all(dir);
  nlohmann::json config = nlohmann::json::parse(SmallSyntheticConfig(16));
  config["num_nextn_predict_layers"] = 0;
  config["compress_ratios"] = {0, 4, 128};
  WriteSyntheticCheckpoint(dir, config.dump(), 7);
  config["num_nextn_predict_layers"] = 1;  // as if the MTP tensors had been stripped
  config["compress_ratios"] = {0, 4, 128, 0};
  std::ofstream(dir + "/config.json") << config.dump();
  auto loaded = Model::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_FALSE(loaded.value()->has_mtp());
  EXPECT_EQ(EvalLogits(*loaded.value(), {1, 2, 3}, {}).size(), size_t(300));
  try {
    EvalMtpLogits(*loaded.value(), {1, 2, 3}, {});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no MTP"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dsv4
