// The C++ forward against goldens from our PyTorch reference (tools/reference):
// logits of whole prefills (every position), prefill + decode, and the MTP head, for
// an all-BF16 checkpoint and one with FP8 weights and FP4 experts as shipped, with the
// activation-quantisation simulations on and off.
//
// Tolerances. With the simulations off the forward is continuous, so every row must
// match within relative L2 kRowTolNoQuant with the same argmax. With them on, a
// float32-level difference can flip one FP8/FP4 rounding step and cascade, so the
// whole case must stay within kCaseTolQuant and the argmax must agree on every row whose
// top-2 gap is decisive (larger than kDecisiveGap in logits).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/forward/eval.h"
#include "model/forward/model.h"

namespace dsv4 {
namespace {

constexpr double kRowTolNoQuant = 1e-3;
constexpr double kCaseTolNoQuant = 1e-4;
constexpr double kCaseTolQuant = 0.03;
constexpr double kDecisiveGap = 0.05;

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures";

struct GoldenCase {
  std::string suite, name, model, file, kind;
  std::vector<int32_t> tokens;
  int64_t prefill = 0, rows = 0;
  bool all_positions = false, act_quant = true;
};

std::vector<GoldenCase> LoadCases() {
  std::vector<GoldenCase> cases;
  const std::filesystem::path root = kFixtures + "/golden";
  if (!std::filesystem::exists(root)) return cases;
  for (const auto& dir : std::filesystem::directory_iterator(root)) {
    std::ifstream in(dir.path() / "cases.json");
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& c : j) {
      GoldenCase g;
      g.suite = dir.path().filename().string();
      g.name = c.at("name").get<std::string>();
      g.model = c.at("model").get<std::string>();
      g.file = (dir.path() / c.at("file").get<std::string>()).string();
      g.kind = c.at("kind").get<std::string>();
      g.tokens = c.at("tokens").get<std::vector<int32_t>>();
      g.prefill = c.value("prefill", int64_t(0));
      g.rows = c.at("rows").get<int64_t>();
      g.all_positions = c.value("all_positions", false);
      g.act_quant = c.value("act_quant", true);
      cases.push_back(g);
    }
  }
  return cases;
}

const Model& LoadModelOnce(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<Model>> models;
  auto it = models.find(rel);
  if (it == models.end()) {
    auto loaded = Model::Load(kFixtures + "/" + rel);
    if (!loaded.ok()) throw std::runtime_error(loaded.error());
    it = models.emplace(rel, std::move(loaded.value())).first;
  }
  return *it->second;
}

std::vector<float> ReadRows(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(bool(in)) << path;
  std::vector<float> v(size_t(in.tellg()) / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  return v;
}

struct RowStats {
  double rel_l2;
  int argmax_ours, argmax_ref;
  double gap_ref;  // top-1 minus top-2 of the reference row
};

RowStats CompareRow(const float* ours, const float* ref, int64_t V) {
  double num = 0, den = 0;
  int a = 0, b = 0;
  for (int64_t i = 0; i < V; ++i) {
    num += double(ours[i] - ref[i]) * double(ours[i] - ref[i]);
    den += double(ref[i]) * double(ref[i]);
    if (ours[i] > ours[a]) a = int(i);
    if (ref[i] > ref[b]) b = int(i);
  }
  double second = -INFINITY;
  for (int64_t i = 0; i < V; ++i) {
    if (i != b) second = std::max(second, double(ref[i]));
  }
  return {std::sqrt(num / std::max(den, 1e-30)), a, b, double(ref[b]) - second};
}

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesReference) {
  const GoldenCase& g = GetParam();
  const Model& model = LoadModelOnce(g.model);
  const int64_t V = model.config().vocab_size;
  EvalOptions options;
  options.forward.act_quant = g.act_quant;
  options.all_positions = g.all_positions;
  options.prefill = g.prefill;
  std::vector<float> ours = g.kind == "mtp" ? EvalMtpLogits(model, g.tokens, options)
                                            : EvalLogits(model, g.tokens, options);
  std::vector<float> ref = ReadRows(g.file);
  ASSERT_EQ(int64_t(ref.size()), g.rows * V);
  ASSERT_EQ(ours.size(), ref.size());

  double num = 0, den = 0, worst = 0;
  int disagreements = 0;
  for (int64_t r = 0; r < g.rows; ++r) {
    RowStats s = CompareRow(&ours[size_t(r * V)], &ref[size_t(r * V)], V);
    worst = std::max(worst, s.rel_l2);
    for (int64_t i = 0; i < V; ++i) {
      double d = double(ours[size_t(r * V + i)]) - ref[size_t(r * V + i)];
      num += d * d;
      den += double(ref[size_t(r * V + i)]) * ref[size_t(r * V + i)];
    }
    if (!g.act_quant) {
      EXPECT_LE(s.rel_l2, kRowTolNoQuant) << "row " << r;
    }
    if (s.argmax_ours != s.argmax_ref && s.gap_ref > kDecisiveGap) {
      ++disagreements;
      ADD_FAILURE() << "row " << r << ": argmax " << s.argmax_ours << " vs reference "
                    << s.argmax_ref << " (reference top-2 gap " << s.gap_ref << ")";
    }
  }
  const double case_rel = std::sqrt(num / den);
  EXPECT_LE(case_rel, g.act_quant ? kCaseTolQuant : kCaseTolNoQuant);
  RecordProperty("case_rel_l2", std::to_string(case_rel));
  std::printf("[golden] %s/%s rows=%lld case_rel_l2=%.3g worst_row=%.3g argmax_disagree=%d\n",
              g.suite.c_str(), g.name.c_str(), (long long)g.rows, case_rel, worst,
              disagreements);
}

// Chunked prefill and token-by-token decode compute each position exactly as one
// whole prefill does (position-based definitions, spec §15.13).
TEST_P(GoldenTest, ChunkingDoesNotChangeLogits) {
  const GoldenCase& g = GetParam();
  if (g.kind != "logits" || !g.all_positions || g.tokens.size() < 8) GTEST_SKIP();
  const Model& model = LoadModelOnce(g.model);
  EvalOptions whole;
  whole.forward.act_quant = g.act_quant;
  whole.all_positions = true;
  whole.prefill = int64_t(g.tokens.size());
  std::vector<float> a = EvalLogits(model, g.tokens, whole);
  for (int64_t chunk : {1, 5, 64}) {
    EvalOptions chunked = whole;
    chunked.chunk = chunk;
    std::vector<float> b = EvalLogits(model, g.tokens, chunked);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(a, b) << "chunk " << chunk;
  }
  EvalOptions decode = whole;  // prefill 3 tokens, decode the rest one at a time
  decode.prefill = 3;
  std::vector<float> c = EvalLogits(model, g.tokens, decode);
  EXPECT_EQ(c, a);
}

std::string CaseName(const testing::TestParamInfo<GoldenCase>& info) {
  std::string s = info.param.suite + "_" + info.param.name;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

// The fixtures are committed; a checkout without them must fail, not pass vacuously.
TEST(GoldenFixtures, ArePresent) {
  std::vector<GoldenCase> cases = LoadCases();
  EXPECT_GE(cases.size(), 20u);
  int mtp = 0, quant_off = 0;
  for (const GoldenCase& g : cases) {
    mtp += g.kind == "mtp";
    quant_off += !g.act_quant;
  }
  EXPECT_GE(mtp, 2);
  EXPECT_GE(quant_off, 8);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, testing::ValuesIn(LoadCases()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

}  // namespace
}  // namespace dsv4
