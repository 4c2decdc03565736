// The dsv4 binary end to end: eval's file format and protocol, inspect's report, and
// clear errors (non-zero exit, a message) for bad input.
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/bf16_row_blocks.h"
#include "kernels/dot.h"
#include "kernels/precision.h"
#include "kernels/tile_order.h"
#include "model/forward/eval.h"

namespace dsv4 {
namespace {

const std::string kModel = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/tiny-fp8";

struct CommandResult {
  int status;
  std::string output;  // stdout and stderr
};

CommandResult Dsv4(const std::string& args) {
  std::string cmd = std::string(DSV4_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CommandResult r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  r.status = pclose(p);
  return r;
}

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(size_t(in.tellg()) / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  return v;
}

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/dsv4_cli_" + name;
}

TEST(CliTest, EvalWritesPrefillThenDecodeRows) {
  const std::string out = TempPath("eval.f32");
  CommandResult r = Dsv4("eval --model " + kModel + " --tokens 5,17,3,9,200,41 --prefill 4 --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  auto loaded = Model::Load(kModel);
  ASSERT_TRUE(loaded.ok());
  const int64_t V = loaded.value()->config().vocab_size;
  std::vector<float> rows = ReadFloats(out);
  ASSERT_EQ(int64_t(rows.size()), 3 * V);  // last prefill row + 2 decode rows
  EvalOptions options;
  options.prefill = 4;
  kernels::SetPreciseMath(true);  // eval's default numerics
  EXPECT_EQ(rows, EvalLogits(*loaded.value(), {5, 17, 3, 9, 200, 41}, options));
  kernels::SetPreciseMath(false);  // --fast: the serving kernels
  r = Dsv4("eval --fast --model " + kModel + " --tokens 5,17,3,9,200,41 --prefill 4 --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(ReadFloats(out), EvalLogits(*loaded.value(), {5, 17, 3, 9, 200, 41}, options));
}

TEST(CliTest, EvalAllPositionsTokenFileAndMtp) {
  const std::string ids = TempPath("ids.txt"), out = TempPath("all.f32"), mtp = TempPath("mtp.f32");
  std::ofstream(ids) << "5 17\n3, 9\n";
  CommandResult r = Dsv4("eval --model " + kModel + " --tokens @" + ids + " --prefill 3 --all-positions --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  auto loaded = Model::Load(kModel);
  const int64_t V = loaded.value()->config().vocab_size;
  EXPECT_EQ(int64_t(ReadFloats(out).size()), 4 * V);
  r = Dsv4("eval --model " + kModel + " --tokens 5,17,3,9 --mtp-logits-out " + mtp);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(int64_t(ReadFloats(mtp).size()), 3 * V);  // pairs (h_p, t_p+1), p = 0..2
}

TEST(CliTest, InspectReportsCosts) {
  CommandResult r = Dsv4("inspect --json --model " + kModel);
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_GT(j.at("weight_bytes_per_token").get<int64_t>(), 0);
  EXPECT_LT(j.at("weight_bytes_per_token").get<int64_t>(), j.at("tensor_bytes").get<int64_t>());
  EXPECT_GT(j.at("kv_bytes_per_token").get<double>(), 0);
  EXPECT_GT(j.at("kv_bytes_at_1m").get<int64_t>(), 1048576LL);
  EXPECT_TRUE(j.at("dtypes").contains("F8_E4M3"));
  EXPECT_TRUE(j.at("dtypes").contains("I8"));
  EXPECT_EQ(j.at("layer_kinds").size(), j.at("num_hidden_layers").get<size_t>());
}

// The bench report's fields (the issue's checks read them), on the tiny model: every
// figure present and positive, and with --repeats the median between the extremes.
TEST(CliTest, BenchJsonReportsEveryFigure) {
  CommandResult r = Dsv4("bench --json --model " + kModel + " --prefill 64 --batch 1,16 --steps 2 --repeats 3");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  for (const char* key : {"prefill_tok_s", "decode_tok_s", "decode_tok_s_batch16", "weight_bytes_per_token",
                          "kv_bytes_per_token", "measured_bandwidth_gb_s", "roofline_ratio", "peak_rss_bytes",
                          "measured_fma_peak_gflop_s", "prefill_fma_peak_ratio", "decode_tok_s_step_ms_p50",
                          "decode_tok_s_step_ms_p99"}) {
    ASSERT_TRUE(j.contains(key)) << key << " in " << r.output;
    EXPECT_GT(j.at(key).get<double>(), 0) << key;
  }
  // Which kernels ran: the active set's name, "+amx" where the head ran on AMX tiles,
  // "+fp4fma" where FP4 decode products ran on FMAs (only on a CPU whose AVX-512 set has
  // them; whether they are preferred is timed in each process, so not compared here).
  const std::string kernels = j.at("kernels").get<std::string>();
  EXPECT_TRUE(kernels.rfind("avx512", 0) == 0 || kernels == "avx2" || kernels == "ref") << kernels;
  if (kernels.find("+fp4fma") != std::string::npos) {
    EXPECT_TRUE(kernels.rfind("avx512", 0) == 0 && kernels::ActiveDotKernels().e2m1_weight_rows_fma != nullptr)
        << kernels;
  }
  // "+tileorder" exactly where FP8/FP4 products run in tile order (AMX, DSV4_TILE_ORDER).
  EXPECT_EQ(kernels.find("+tileorder") != std::string::npos, kernels::TileOrderActive()) << kernels;
  EXPECT_TRUE(j.at("cpu").is_string());
  EXPECT_EQ(j.at("batch_invariant"), true);  // the default numerics
  // The load's wall time, and its blocked BF16 copies: the tiny model's are under the
  // cache's size threshold, so packed at every load where the kernel for them exists.
  EXPECT_GT(j.at("load_s").get<double>(), 0);
  EXPECT_EQ(j.at("packed_weights"), kernels::ActiveBf16Blocks() != nullptr ? "packed" : "none");
  EXPECT_LE(j.at("prefill64_tok_s_min").get<double>(), j.at("prefill64_tok_s").get<double>());
  EXPECT_GE(j.at("prefill64_tok_s_max").get<double>(), j.at("prefill64_tok_s").get<double>());
  EXPECT_LE(j.at("decode_tok_s_step_ms_p50").get<double>(), j.at("decode_tok_s_step_ms_p99").get<double>());
  for (const char* key : {"decode_tok_s", "decode_tok_s_batch16"}) {
    EXPECT_LE(j.at(std::string(key) + "_min").get<double>(), j.at(key).get<double>()) << key;
    EXPECT_GE(j.at(std::string(key) + "_max").get<double>(), j.at(key).get<double>()) << key;
  }
  // The roofline's bandwidth is the highest reading (start, end, and one before each
  // batch-1 round), so the paired ratio is never below the headline one.
  EXPECT_GE(j.at("measured_bandwidth_gb_s").get<double>(), j.at("measured_bandwidth_gb_s_start").get<double>());
  EXPECT_GE(j.at("measured_bandwidth_gb_s").get<double>(), j.at("measured_bandwidth_gb_s_end").get<double>());
  EXPECT_GE(j.at("roofline_ratio_paired").get<double>(), j.at("roofline_ratio").get<double>() * (1 - 1e-9));
  // Batch 16 against batch 1: the headline ratio and the median of per-round ratios, each
  // batch-16 round against a batch-1 round run just before it.
  EXPECT_NEAR(j.at("decode_tok_s_batch16_vs_1").get<double>(),
              j.at("decode_tok_s_batch16").get<double>() / j.at("decode_tok_s").get<double>(), 1e-9);
  ASSERT_TRUE(j.contains("decode_tok_s_batch16_vs_1_paired")) << r.output;
  EXPECT_GT(j.at("decode_tok_s_batch16_vs_1_paired").get<double>(), 0);
  // The bandwidth readings' 1 GB of buffers is not counted in the tiny model's peak RSS
  // (where the kernel lets the process reset its high-water mark).
  if (access("/proc/self/clear_refs", W_OK) == 0) {
    EXPECT_LT(j.at("peak_rss_bytes").get<double>(), 512.0 * (1 << 20));
  }
  r = Dsv4("bench --json --model " + kModel + " --prefill 64 --batch 1 --repeats 0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--repeats"), std::string::npos) << r.output;
}

TEST(CliTest, BadInputFailsWithAMessage) {
  struct Case {
    std::string args, message;
  } cases[] = {
      {"eval --model /nonexistent --tokens 1 --logits-out /dev/null", "/nonexistent"},
      {"eval --model " + kModel + " --tokens 1,99999 --logits-out /dev/null", "outside the vocabulary"},
      {"eval --model " + kModel + " --tokens 1,2 --prefill 5 --logits-out /dev/null", "--prefill"},
      {"eval --model " + kModel + " --tokens 1,x --logits-out /dev/null", "bad token id"},
      {"eval --model " + kModel + " --tokens 1 --bogus 3", "unknown option --bogus"},
      {"eval --model " + kModel + " --tokens 1", "--logits-out"},
      {"frobnicate", "unknown command"},
  };
  for (const Case& c : cases) {
    CommandResult r = Dsv4(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << " -> " << r.output;
  }
}

}  // namespace
}  // namespace dsv4
