// The blocked BF16 copies' cache (model/forward/row_blocks_cache.h): a second load maps
// the first load's file and computes the same bits; a changed checkpoint, a damaged or
// cut-off file and an unwritable directory all fall back to packing with the same bits;
// files of checkpoints that are gone are pruned.
#include "model/forward/row_blocks_cache.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/derived_file.h"
#include "kernels/bf16_row_blocks.h"
#include "model/forward/model.h"
#include "scratch_dir.h"
#include "synthetic_configs.h"

namespace dsv4 {
namespace {

namespace fs = std::filesystem;

class RowBlocksCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteSyntheticCheckpoint(ckpt_, SmallSyntheticConfig(100), 42); }

  RowBlocksCacheOptions Options() const {
    RowBlocksCacheOptions o;
    o.dir = (root_ / "cache").string();
    o.min_bytes = 0;  // the test model's copies are a few hundred KB
    o.min_free_bytes = 0;
    return o;
  }
  std::unique_ptr<Model> Load(const RowBlocksCacheOptions& cache) const {
    LoadOptions options;
    options.row_blocks_cache = cache;
    auto loaded = Model::Load(ckpt_, options);
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    return loaded.ok() ? std::move(loaded.value()) : nullptr;
  }
  // Logits of every position of a fixed prompt, prefilled in one chunk.
  static std::vector<float> Logits(const Model& model) {
    auto state = model.NewState(false);
    std::vector<float> logits;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens = {5, 17, 250, 3, 99, 140, 7, 64};
    segs[0].all_logits = true;
    segs[0].logits = &logits;
    model.Forward(segs, {});
    return logits;
  }
  std::string CachePath() const {
    auto ckpt = Checkpoint::Open(ckpt_);
    EXPECT_TRUE(ckpt.ok());
    return RowBlocksCachePath(*ckpt.value(), Options());
  }
  static bool BlocksActive() { return kernels::ActiveBf16Blocks() != nullptr; }

  ScratchDir scratch_{"row_blocks_cache"};
  const fs::path& root_ = scratch_.path();
  const std::string ckpt_ = scratch_ / "ckpt";
};

kernels::WeightMatrix HeadMatrix(const Checkpoint& ckpt) {
  const TensorRef* t = ckpt.Find("head.weight");
  EXPECT_NE(t, nullptr);
  kernels::WeightMatrix m;
  m.dtype = DType::kBF16;
  m.rows = t->shape[0];
  m.cols = t->shape[1];
  m.data = t->data;
  return m;
}

TEST_F(RowBlocksCacheTest, KeyNamesEveryMatrixAndChangesWithTheShard) {
  auto ckpt = Checkpoint::Open(ckpt_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  const kernels::WeightMatrix head = HeadMatrix(*ckpt.value());
  const std::string key = RowBlocksCacheKey(*ckpt.value(), {&head});
  EXPECT_NE(key.find("matrix head.weight 300x256 in "), std::string::npos) << key;
  EXPECT_NE(key.find("rows per block " + std::to_string(kernels::kRowBlockRows) + "\n"), std::string::npos) << key;
  EXPECT_NE(key.find("checkpoint " + fs::weakly_canonical(ckpt_).string() + "\n"), std::string::npos) << key;
  EXPECT_NE(key.find(" mtime "), std::string::npos) << key;
  EXPECT_EQ(RowBlocksCacheKey(*ckpt.value(), {&head}), key);
  for (const auto& e : fs::directory_iterator(ckpt_)) {
    if (e.path().extension() == ".safetensors") {
      fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::seconds(5));
    }
  }
  EXPECT_NE(RowBlocksCacheKey(*ckpt.value(), {&head}), key);
}

TEST_F(RowBlocksCacheTest, SampledCheckTellsTheMatrixsOwnBlocks) {
  auto ckpt = Checkpoint::Open(ckpt_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  const kernels::WeightMatrix head = HeadMatrix(*ckpt.value());
  std::vector<uint16_t> blocks(size_t(kernels::RowBlocksElements(head.rows, head.cols)));
  kernels::PackBf16RowBlocks(reinterpret_cast<const uint16_t*>(head.data), head.rows, head.cols, blocks.data());
  EXPECT_TRUE(RowBlocksMatchSources({&head}, blocks.data()));
  // Rows shifted by one block: every sampled element reads another row.
  std::vector<uint16_t> shifted(blocks.size());
  std::copy(blocks.begin() + kernels::kRowBlockRows * head.cols, blocks.end(), shifted.begin());
  EXPECT_FALSE(RowBlocksMatchSources({&head}, shifted.data()));
  std::vector<uint16_t> zeros(blocks.size(), 0);
  EXPECT_FALSE(RowBlocksMatchSources({&head}, zeros.data()));
}

TEST_F(RowBlocksCacheTest, SecondLoadMapsTheFirstLoadsCopy) {
  if (!BlocksActive()) GTEST_SKIP() << "no blocked-copy kernel on this CPU (AVX-512 BF16)";
  RowBlocksCacheOptions off = Options();
  off.enabled = false;
  auto reference = Load(off);
  ASSERT_NE(reference, nullptr);
  EXPECT_EQ(reference->row_blocks_origin(), RowBlocksOrigin::kPacked);
  EXPECT_FALSE(fs::exists(CachePath()));
  const std::vector<float> expected = Logits(*reference);

  auto first = Load(Options());
  EXPECT_EQ(first->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  EXPECT_TRUE(fs::exists(CachePath()));
  EXPECT_EQ(Logits(*first), expected);
  auto second = Load(Options());
  EXPECT_EQ(second->row_blocks_origin(), RowBlocksOrigin::kCacheFile);
  EXPECT_EQ(Logits(*second), expected);
  // Copies below the size threshold are not cached (nor read from the cache).
  RowBlocksCacheOptions small = Options();
  small.min_bytes = size_t(1) << 40;
  EXPECT_EQ(Load(small)->row_blocks_origin(), RowBlocksOrigin::kPacked);
}

TEST_F(RowBlocksCacheTest, ChangedCheckpointOrDamagedFileIsRepacked) {
  if (!BlocksActive()) GTEST_SKIP() << "no blocked-copy kernel on this CPU (AVX-512 BF16)";
  auto first = Load(Options());
  ASSERT_EQ(first->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  const std::vector<float> expected = Logits(*first);
  const std::string path = CachePath();

  // The shard rewritten (a new modification time): a new key.
  for (const auto& e : fs::directory_iterator(ckpt_)) {
    if (e.path().extension() == ".safetensors") {
      fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::seconds(5));
    }
  }
  EXPECT_EQ(Load(Options())->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  EXPECT_EQ(Load(Options())->row_blocks_origin(), RowBlocksOrigin::kCacheFile);

  // The payload zeroed behind an intact header: caught by the sampled check.
  const size_t payload = fs::file_size(path) - DerivedFile::kPayloadOffset;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(DerivedFile::kPayloadOffset));
    const std::vector<char> zeros(payload, 0);
    f.write(zeros.data(), std::streamsize(zeros.size()));
  }
  auto repacked = Load(Options());
  EXPECT_EQ(repacked->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  EXPECT_EQ(Logits(*repacked), expected);

  // Cut off: the size does not match.
  ASSERT_EQ(::truncate(path.c_str(), off_t(fs::file_size(path) - 2)), 0);
  auto again = Load(Options());
  EXPECT_EQ(again->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  EXPECT_EQ(Logits(*again), expected);
  EXPECT_EQ(Load(Options())->row_blocks_origin(), RowBlocksOrigin::kCacheFile);
}

TEST_F(RowBlocksCacheTest, UnwritableCacheDirectoryStillLoads) {
  if (!BlocksActive()) GTEST_SKIP() << "no blocked-copy kernel on this CPU (AVX-512 BF16)";
  RowBlocksCacheOptions off = Options();
  off.enabled = false;
  const std::vector<float> expected = Logits(*Load(off));
  std::ofstream(root_ / "plain") << "a file where the cache directory would go";
  RowBlocksCacheOptions blocked = Options();
  blocked.dir = (root_ / "plain" / "cache").string();
  auto model = Load(blocked);
  EXPECT_EQ(model->row_blocks_origin(), RowBlocksOrigin::kPacked);
  EXPECT_EQ(Logits(*model), expected);
}

TEST_F(RowBlocksCacheTest, FilesOfRemovedCheckpointsArePruned) {
  if (!BlocksActive()) GTEST_SKIP() << "no blocked-copy kernel on this CPU (AVX-512 BF16)";
  const fs::path cache = Options().dir;
  const std::string other_ckpt = (root_ / "other").string();
  fs::create_directories(other_ckpt);
  std::string err;
  const char payload[4] = {1, 2, 3, 4};
  ASSERT_TRUE(DerivedFile::Write((cache / "gone.bf16blocks").string(), "layout\ncheckpoint " + (root_ / "gone").string() + "\n",
                                 payload, 4, 0, &err)) << err;
  ASSERT_TRUE(DerivedFile::Write((cache / "kept.bf16blocks").string(), "layout\ncheckpoint " + other_ckpt + "\n", payload,
                                 4, 0, &err)) << err;
  std::ofstream(cache / "unrelated.txt") << "not ours";
  EXPECT_EQ(Load(Options())->row_blocks_origin(), RowBlocksOrigin::kPackedAndCached);
  EXPECT_FALSE(fs::exists(cache / "gone.bf16blocks"));
  EXPECT_TRUE(fs::exists(cache / "kept.bf16blocks"));
  EXPECT_TRUE(fs::exists(cache / "unrelated.txt"));
  EXPECT_TRUE(fs::exists(CachePath()));
}

}  // namespace
}  // namespace dsv4
