// The C++ forward against goldens from our PyTorch reference (tools/reference):
// logits of whole prefills (every position), prefill + decode, and the MTP head, for
// an all-BF16 checkpoint and one with FP8 weights and FP4 experts as shipped, with the
// activation-quantisation simulations on and off.
//
// Tolerances follow the acceptance method. The reference is run twice: as is and with
// a float32-level perturbation (every f64 accumulation done in fp32). A row is stable
// when the two agree within kStableTol; a bf16 rounding flip can otherwise cascade
// through routing and top-k decisions, which makes a row chaotic. Stable rows must match
// within kRowTol with the same argmax. The whole case must stay within kCaseTol (or a
// small multiple of the reference's own perturbation, if larger), and the argmax must
// agree on every row whose top-2 gap is decisive: larger than kDecisiveGap and than
// 4x the row's largest logit change under the reference's perturbation.
// The precise mode (f64 accumulation, like the reference) must meet all of this; it in
// fact reproduces every golden bit for bit. The fast SIMD mode sums in another fp32
// order, a perturbation of its own, so there only rare flips are allowed (see below).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "model/forward/eval.h"
#include "model/forward/model.h"

namespace dsv4 {
namespace {

constexpr double kStableTol = 1e-4;
constexpr double kRowTol = 1e-3;
constexpr double kCaseTol = 0.05;
constexpr double kDecisiveGap = 0.05;

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures";

struct GoldenCase {
  std::string suite, name, model, file, perturbed_file, kind;
  std::vector<int32_t> tokens;
  int64_t prefill = 0, rows = 0;
  bool all_positions = false, act_quant = true;
};

// Shown by gtest in test listings instead of a byte dump.
void PrintTo(const GoldenCase& g, std::ostream* os) { *os << g.suite << "/" << g.name; }

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
      if (c.contains("perturbed_file")) {
        g.perturbed_file = (dir.path() / c.at("perturbed_file").get<std::string>()).string();
      }
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

double RelL2(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += double(a[i] - b[i]) * double(a[i] - b[i]);
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

double MaxAbsDiff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

void CheckAgainstReference(const GoldenCase& g, bool precise) {
  kernels::SetPreciseMath(precise);
  const Model& model = LoadModelOnce(g.model);
  const int64_t V = model.config().vocab_size;
  EvalOptions options;
  options.forward.act_quant = g.act_quant;
  options.all_positions = g.all_positions;
  options.prefill = g.prefill;
  std::vector<float> ours = g.kind == "mtp" ? EvalMtpLogits(model, g.tokens, options)
                                            : EvalLogits(model, g.tokens, options);
  kernels::SetPreciseMath(false);
  const std::vector<float> ref = ReadRows(g.file);
  ASSERT_EQ(int64_t(ref.size()), g.rows * V);
  ASSERT_EQ(ours.size(), ref.size());
  const std::vector<float> perturbed = g.perturbed_file.empty() ? ref : ReadRows(g.perturbed_file);
  ASSERT_EQ(perturbed.size(), ref.size());

  int stable = 0, stable_off = 0, decisive_rows = 0, disagreements = 0;
  double worst_stable = 0;
  for (int64_t r = 0; r < g.rows; ++r) {
    const float* o = &ours[size_t(r * V)];
    const float* a = &ref[size_t(r * V)];
    const float* p = &perturbed[size_t(r * V)];
    RowStats s = CompareRow(o, a, V);
    const bool row_stable = !g.perturbed_file.empty() && RelL2(p, a, V) <= kStableTol;
    const bool decisive = s.gap_ref > kDecisiveGap && s.gap_ref > 4 * MaxAbsDiff(p, a, V);
    decisive_rows += decisive;
    if (row_stable) {
      ++stable;
      worst_stable = std::max(worst_stable, s.rel_l2);
      stable_off += s.rel_l2 > kRowTol || s.argmax_ours != s.argmax_ref;
      if (precise) {
        EXPECT_LE(s.rel_l2, kRowTol) << "stable row " << r;
        EXPECT_EQ(s.argmax_ours, s.argmax_ref) << "stable row " << r;
      }
    }
    if (decisive && s.argmax_ours != s.argmax_ref) {
      ++disagreements;
      if (precise) {
        ADD_FAILURE() << "row " << r << ": argmax " << s.argmax_ours << " vs reference "
                      << s.argmax_ref << " (reference top-2 gap " << s.gap_ref << ")";
      }
    }
  }
  const int64_t n = int64_t(ref.size());
  const double case_rel = RelL2(ours.data(), ref.data(), n);
  const double perturbation = RelL2(perturbed.data(), ref.data(), n);
  EXPECT_LE(case_rel, std::max(kCaseTol, 4 * perturbation));
  if (!precise) {
    // The fast mode's fp32 summation order is itself a float32-level perturbation, a
    // different one from the reference's: a near-tie that the reference's perturbation
    // survives may flip here (and cascade to later positions), so stable rows are only
    // reported. Argmax flips on decisive rows must stay rare.
    EXPECT_LE(disagreements, std::max(1, decisive_rows / 20))
        << "argmax disagreements on decisive rows: " << disagreements << " of " << decisive_rows;
  }
  std::printf("[golden] %s %s/%s rows=%lld stable=%d stable_off=%d case_rel_l2=%.3g "
              "worst_stable_row=%.3g reference_perturbation=%.3g argmax_disagree=%d/%d\n",
              precise ? "precise" : "fast", g.suite.c_str(), g.name.c_str(), (long long)g.rows,
              stable, stable_off, case_rel, worst_stable, perturbation, disagreements,
              decisive_rows);
}

TEST_P(GoldenTest, PreciseModeMatchesReference) { CheckAgainstReference(GetParam(), true); }
TEST_P(GoldenTest, FastModeMatchesReference) { CheckAgainstReference(GetParam(), false); }

// Chunked prefill and token-by-token decode compute each position as one whole prefill
// does (position-based definitions, spec §15.13). Bit-exact here: the engine follows the
// reference kernel's 64-slot softmax blocks, whose grouping can differ between a prefill
// and a decode layout only when a query sees more than 64 keys, which these fixtures
// never do (asserted below).
TEST_P(GoldenTest, ChunkingDoesNotChangeLogits) {
  const GoldenCase& g = GetParam();
  if (g.kind != "logits" || !g.all_positions || g.tokens.size() < 8) GTEST_SKIP();
  const Model& model = LoadModelOnce(g.model);
  const ModelConfig& cfg = model.config();
  ASSERT_LE(cfg.sliding_window + cfg.index_topk + int64_t(g.tokens.size()) / 128, 64);
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
