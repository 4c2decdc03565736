// Safetensors / Checkpoint / TensorBinder: tiny files written by the test itself,
// one test per kind of damage (each error must name the file and the tensor), and
// positive tests that the bound WeightMatrix decodes to the expected values.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/linear.h"
#include "model/checkpoint.h"
#include "model/tensor_binder.h"

namespace dsv4 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct FakeTensor {
  std::string name;
  std::string dtype;  // as written in the header
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Deterministic filler bytes of length n (distinct per seed).
std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed * 31 + i * 7);
  return b;
}

size_t ElemSize(const std::string& dtype) {
  if (dtype == "BF16") return 2;
  if (dtype == "F32") return 4;
  if (dtype == "I64") return 8;
  return 1;
}

// A tensor with patterned bytes of the right size for its dtype and shape.
FakeTensor T(std::string name, std::string dtype, std::vector<int64_t> shape, uint8_t seed = 1) {
  size_t n = ElemSize(dtype);
  for (int64_t d : shape) n *= size_t(d);
  return {std::move(name), std::move(dtype), std::move(shape), Pattern(n, seed)};
}

// A file with the given header text (length-prefixed) and data region.
std::string RawFile(const std::string& header_text, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + header_text + data;
}

// Safetensors bytes: u64 LE header length, JSON header (padded to 8 bytes with
// spaces, as the safetensors writer does), then the tensors, each 8-byte aligned
// (the kernels read F32/BF16 in place, so alignment matters under UBSan). `edit` may
// change the header before it is serialised.
std::string Build(const std::vector<FakeTensor>& tensors,
                  const std::function<void(json&)>& edit = nullptr) {
  json header = json::object();
  std::string data;
  for (const FakeTensor& t : tensors) {
    data.resize((data.size() + 7) / 8 * 8, '\0');  // keep every tensor 8-byte aligned
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.append(t.bytes.begin(), t.bytes.end());
  }
  if (edit) edit(header);
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  return RawFile(text, data);
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("dsv4_loader_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    std::ofstream(Path(name), std::ios::binary) << bytes;
    return Path(name);
  }
  void WriteIndex(const json& weight_map) const {
    Write("model.safetensors.index.json",
          json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump());
  }
  // Opens dir_ and expects failure mentioning every needle.
  void ExpectOpenError(const std::vector<std::string>& needles) const {
    auto r = Checkpoint::Open(dir_);
    ASSERT_FALSE(r.ok()) << "expected an error";
    for (const std::string& n : needles) EXPECT_THAT(r.error(), HasSubstr(n));
  }
  std::unique_ptr<Checkpoint> OpenOk() const {
    auto r = Checkpoint::Open(dir_);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  // Expects `fn` to throw dsv4::Error mentioning every needle.
  static void ExpectThrow(const std::function<void()>& fn, const std::vector<std::string>& needles) {
    try {
      fn();
      ADD_FAILURE() << "expected dsv4::Error";
    } catch (const Error& e) {
      for (const std::string& n : needles) EXPECT_THAT(e.what(), HasSubstr(n));
    }
  }

  std::string dir_;
};

// ---- positive loading ----

TEST_F(LoaderTest, SingleFileReadsBackExactBytes) {
  std::vector<FakeTensor> ts = {T("embed.weight", "BF16", {4, 8}, 1), T("norm.weight", "F32", {8}, 2),
                                T("ffn.gate.tid2eid", "I64", {3, 2}, 3)};
  Write("model.safetensors", Build(ts, [](json& h) {
          h["__metadata__"] = {{"format", "pt"}};
        }));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  EXPECT_EQ(ckpt->tensors().size(), 3u);
  EXPECT_EQ(ckpt->total_bytes(), 64 + 32 + 48);
  for (const FakeTensor& want : ts) {
    const TensorRef* t = ckpt->Find(want.name);
    ASSERT_NE(t, nullptr) << want.name;
    EXPECT_EQ(t->shape, want.shape);
    EXPECT_EQ(DTypeName(t->dtype), want.dtype);
    EXPECT_EQ(t->file, Path("model.safetensors"));
    ASSERT_EQ(t->nbytes, want.bytes.size());
    EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->nbytes), want.bytes);
  }
  EXPECT_EQ(ckpt->Find("missing"), nullptr);
  EXPECT_EQ(ShapeString({4, 16}), "[4, 16]");
  EXPECT_EQ(ShapeString({}), "[]");
}

TEST_F(LoaderTest, MultiShardWithIndex) {
  FakeTensor a = T("layers.0.attn_norm.weight", "BF16", {16}, 4);
  FakeTensor b = T("layers.0.attn.attn_sink", "F32", {4}, 5);
  FakeTensor c = T("mtp.0.enorm.weight", "BF16", {16}, 6);
  Write("model-00001-of-00002.safetensors", Build({a, b}));
  Write("model-00002-of-00002.safetensors", Build({c}));
  WriteIndex({{a.name, "model-00001-of-00002.safetensors"},
              {b.name, "model-00001-of-00002.safetensors"},
              {c.name, "model-00002-of-00002.safetensors"}});
  Write("stray.safetensors", "garbage");  // not named by the index: ignored
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  EXPECT_EQ(ckpt->tensors().size(), 3u);
  EXPECT_EQ(ckpt->total_bytes(), 32 + 16 + 32);
  const TensorRef* t = ckpt->Find(c.name);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->file, Path("model-00002-of-00002.safetensors"));
  EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->nbytes), c.bytes);
}

TEST_F(LoaderTest, ShardsWithoutIndexAndGapsAllowed) {
  Write("a.safetensors", Build({T("x", "F32", {2}, 1)}, [](json& h) {
          h["x"]["data_offsets"] = {16, 24};  // 16-byte gap before x
        }) + std::string(24, '\0'));
  Write("b.safetensors", Build({T("y", "I8", {3}, 2)}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  EXPECT_NE(ckpt->Find("x"), nullptr);
  EXPECT_NE(ckpt->Find("y"), nullptr);
}

// ---- damaged files ----

TEST_F(LoaderTest, FileShorterThanHeaderLengthField) {
  std::string p = Write("model.safetensors", "abc");
  ExpectOpenError({p, "too short"});
}

TEST_F(LoaderTest, HeaderLengthPastEndOfFile) {
  std::string bytes = Build({T("x", "F32", {2})});
  bytes[0] = char(0xff), bytes[1] = char(0xff);  // header length now far larger than the file
  std::string p = Write("model.safetensors", bytes);
  ExpectOpenError({p, "header length", "past the end of the file"});
  bytes = RawFile("", "");
  bytes[7] = char(0x80);  // 2^63: must not overflow the bound check
  Write("model.safetensors", bytes);
  ExpectOpenError({p, "past the end"});
}

TEST_F(LoaderTest, MalformedHeaderJson) {
  std::string p = Write("model.safetensors", RawFile("{\"x\": {\"dtype\": ", ""));
  ExpectOpenError({p, "malformed safetensors header JSON"});
  Write("model.safetensors", RawFile("[1, 2]  ", ""));
  ExpectOpenError({p, "must be a JSON object"});
}

TEST_F(LoaderTest, MalformedEntries) {
  std::string p = Path("model.safetensors");
  struct Case {
    std::function<void(json&)> edit;
    std::string needle;
  };
  std::vector<Case> cases = {
      {[](json& h) { h["x"] = 5; }, "tensor 'x': header entry must be an object"},
      {[](json& h) { h["x"].erase("dtype"); }, "tensor 'x': missing or non-string 'dtype'"},
      {[](json& h) { h["x"]["dtype"] = 7; }, "tensor 'x': missing or non-string 'dtype'"},
      {[](json& h) { h["x"]["shape"] = "2"; }, "tensor 'x': missing or non-array 'shape'"},
      {[](json& h) { h["x"]["shape"] = {-2}; }, "tensor 'x': shape[0] is negative"},
      {[](json& h) { h["x"]["shape"] = {1.5}; }, "tensor 'x': shape[0] must be an integer"},
      {[](json& h) { h["x"].erase("data_offsets"); }, "tensor 'x': missing 'data_offsets'"},
      {[](json& h) { h["x"]["data_offsets"] = {0}; }, "tensor 'x': missing 'data_offsets'"},
      {[](json& h) { h["x"]["data_offsets"] = {8, 0}; }, "tensor 'x': data_offsets [8, 0]"},
      {[](json& h) { h["x"]["data_offsets"] = {-8, 0}; }, "data_offsets[0] is negative"},
      {[](json& h) { h["x"]["shape"] = {1ll << 62, 1ll << 62}; }, "tensor 'x' has shape"},
      {[](json& h) { h["__metadata__"] = 3; }, "'__metadata__' must be an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    Write("model.safetensors", Build({T("x", "F32", {2})}, c.edit));
    ExpectOpenError({p, c.needle});
  }
}

TEST_F(LoaderTest, UnknownDType) {
  std::string p = Write("model.safetensors", Build({T("layers.0.w", "F16", {2})}));
  ExpectOpenError({p, "tensor 'layers.0.w' has unknown dtype 'F16'"});
}

TEST_F(LoaderTest, TruncatedShard) {
  std::string bytes = Build({T("a", "F32", {4}), T("b", "BF16", {64})});
  std::string p = Write("model.safetensors", bytes.substr(0, bytes.size() - 10));
  ExpectOpenError({p, "tensor 'b'", "truncated shard"});
}

TEST_F(LoaderTest, OutOfRangeDataOffsets) {
  std::string p = Write("model.safetensors", Build({T("a", "F32", {4})}, [](json& h) {
                          h["a"]["data_offsets"] = {1000, 1016};
                        }));
  ExpectOpenError({p, "tensor 'a' data_offsets [1000, 1016] run past the end"});
}

TEST_F(LoaderTest, SizeMismatch) {
  std::string p = Write("model.safetensors", Build({T("a", "F32", {4}), T("b", "BF16", {8})},
                                                   [](json& h) { h["b"]["shape"] = {9}; }));
  ExpectOpenError({p, "tensor 'b'", "hold 16 bytes", "BF16 [9] needs 18"});
}

TEST_F(LoaderTest, OverlappingDataOffsets) {
  std::string p = Write("model.safetensors", Build({T("a", "F32", {4}), T("b", "F32", {4})},
                                                   [](json& h) {
                                                     h["b"]["data_offsets"] = {8, 24};
                                                   }) + std::string(8, '\0'));
  ExpectOpenError({p, "tensors 'a' [0, 16] and 'b' [8, 24] have overlapping data_offsets"});
}

TEST_F(LoaderTest, DuplicateNameInHeader) {
  std::string entry = R"({"dtype": "I8", "shape": [1], "data_offsets": [0, 1]})";
  std::string p = Write("model.safetensors", RawFile("{\"x\": " + entry + ", \"x\": " + entry +
                                                         "}",
                                                     "z"));
  ExpectOpenError({p, "tensor 'x' appears twice"});
}

TEST_F(LoaderTest, DuplicateTensorAcrossShards) {
  std::string a = Write("a.safetensors", Build({T("x", "F32", {2})}));
  std::string b = Write("b.safetensors", Build({T("x", "F32", {2})}));
  ExpectOpenError({"tensor 'x' appears in both", a, b});
}

// Every truncation and every single-byte corruption of a valid file must yield a
// value (ok or an error), never a crash; run under ASan/valgrind to catch bad reads.
TEST_F(LoaderTest, CorruptedBytesNeverCrash) {
  const std::string good = Build({T("a", "BF16", {3, 5}), T("b", "F32", {2}), T("c", "I8", {7})});
  for (size_t n = 0; n < good.size(); ++n) {
    Write("model.safetensors", good.substr(0, n));
    auto r = Checkpoint::Open(dir_);
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes";
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t v : {uint8_t(0), uint8_t(0xff), uint8_t('9'), uint8_t('"')}) {
      std::string bad = good;
      bad[i] = char(v);
      Write("model.safetensors", bad);
      auto r = Checkpoint::Open(dir_);
      if (r.ok()) {  // whatever was accepted must lie inside the file
        for (const auto& [name, t] : r.value()->tensors()) {
          EXPECT_LE(t->nbytes, good.size());
        }
      } else {
        EXPECT_THAT(r.error(), HasSubstr(Path("model.safetensors")));
      }
    }
  }
}

// ---- directory layouts ----

TEST_F(LoaderTest, NoCheckpointOrNotADirectory) {
  Write("config.json", "{}");
  ExpectOpenError({"no safetensors checkpoint in " + dir_});
  auto r = Checkpoint::Open(Path("config.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), AllOf(HasSubstr(Path("config.json")), HasSubstr("not a directory")));
  r = Checkpoint::Open(Path("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), AllOf(HasSubstr(Path("nope")), HasSubstr("does not exist")));
}

TEST_F(LoaderTest, IndexNamesMissingShard) {
  Write("model-00001-of-00002.safetensors", Build({T("a", "F32", {2})}));
  WriteIndex({{"a", "model-00001-of-00002.safetensors"},
              {"b", "model-00002-of-00002.safetensors"}});
  ExpectOpenError({"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'",
                   "tensor 'b'", "does not exist"});
}

TEST_F(LoaderTest, IndexShardMismatch) {
  Write("s1.safetensors", Build({T("a", "F32", {2}), T("extra", "F32", {2})}));
  Write("s2.safetensors", Build({T("b", "F32", {2})}));
  WriteIndex({{"a", "s1.safetensors"}, {"b", "s1.safetensors"}, {"ghost", "s2.safetensors"}});
  ExpectOpenError({"model.safetensors.index.json does not match its shards",
                   "tensor 'b' is mapped to 's1.safetensors' but is in " + Path("s2.safetensors"),
                   "tensor 'ghost' is mapped to 's2.safetensors' but is not in it",
                   "tensor 'extra' in " + Path("s1.safetensors") + " is not listed in the index"});
}

TEST_F(LoaderTest, MalformedIndex) {
  Write("s1.safetensors", Build({T("a", "F32", {2})}));
  Write("model.safetensors.index.json", "{\"weight_map\": ");
  ExpectOpenError({"model.safetensors.index.json", "invalid JSON"});
  WriteIndex({{"a", 1}});
  ExpectOpenError({"model.safetensors.index.json", "tensor 'a'", "shard file name"});
}

// ---- binder ----

TEST_F(LoaderTest, RequireChecksPresenceDTypeAndShape) {
  std::string p = Write("model.safetensors", Build({T("layers.3.attn.kv_norm.weight", "F32", {4, 8})}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  ExpectThrow([&] { binder.Require("layers.3.attn.wkv.weight", {DType::kBF16}, {4, 8}); },
              {dir_, "missing tensor 'layers.3.attn.wkv.weight'"});
  ExpectThrow([&] { binder.Require("layers.3.attn.kv_norm.weight", {DType::kBF16}, {4, 8}); },
              {p, "tensor 'layers.3.attn.kv_norm.weight' has dtype F32, expected BF16"});
  ExpectThrow(
      [&] { binder.Require("layers.3.attn.kv_norm.weight", {DType::kBF16, DType::kF32}, {4, 16}); },
      {p, "tensor 'layers.3.attn.kv_norm.weight' has shape [4, 8], expected [4, 16]"});
  const TensorRef& t =
      binder.Require("layers.3.attn.kv_norm.weight", {DType::kBF16, DType::kF32}, {4, 8});
  EXPECT_EQ(t.nbytes, 128u);
  binder.CheckAllBound();  // everything bound: no throw
}

TEST_F(LoaderTest, CheckAllBoundListsUnexpectedTensors) {
  Write("model.safetensors", Build({T("norm.weight", "BF16", {4}), T("foo", "F32", {1})}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  binder.Require("norm.weight", {DType::kBF16}, {4});
  ExpectThrow([&] { binder.CheckAllBound(); },
              {dir_, "1 checkpoint tensor(s)", "unexpected tensor 'foo'"});
}

TEST_F(LoaderTest, LinearBf16AndF32) {
  FakeTensor w = T("head.weight", "BF16", {3, 5});
  const uint16_t bits = FloatToBf16(-2.5f);
  std::memcpy(&w.bytes[(1 * 5 + 4) * 2], &bits, 2);
  FakeTensor f = T("wo.weight", "F32", {2, 2});
  const float v = 0.375f;
  std::memcpy(&f.bytes[3 * 4], &v, 4);
  Write("model.safetensors", Build({w, f}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  kernels::WeightMatrix m = binder.Linear("head", 3, 5, false);
  EXPECT_EQ(m.dtype, DType::kBF16);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 5);
  EXPECT_EQ(m.scale, nullptr);
  EXPECT_EQ(kernels::WeightAt(m, 1, 4), -2.5f);
  kernels::WeightMatrix mf = binder.Linear("wo", 2, 2, false);
  EXPECT_EQ(mf.dtype, DType::kF32);
  EXPECT_EQ(kernels::WeightAt(mf, 1, 1), 0.375f);
  binder.CheckAllBound();
}

TEST_F(LoaderTest, LinearFp8) {
  // [130, 200]: partial blocks on both axes -> scale [2, 2].
  FakeTensor w = T("attn.wq_a.weight", "F8_E4M3", {130, 200});
  FakeTensor s = T("attn.wq_a.scale", "F8_E8M0", {2, 2});
  const uint8_t code = FloatToE4m3(1.75f);
  w.bytes[129 * 200 + 150] = code;
  s.bytes[1 * 2 + 1] = 127 + 3;  // 2^3
  s.bytes[0] = 127 - 2;
  w.bytes[5 * 200 + 7] = FloatToE4m3(-3.0f);
  Write("model.safetensors", Build({w, s}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  kernels::WeightMatrix m = binder.Linear("attn.wq_a", 130, 200, false);
  EXPECT_EQ(m.dtype, DType::kF8E4M3);
  EXPECT_EQ(m.rows, 130);
  EXPECT_EQ(m.cols, 200);
  EXPECT_EQ(kernels::WeightAt(m, 129, 150), E4m3ToFloat(code) * std::ldexp(1.0f, 3));
  EXPECT_EQ(kernels::WeightAt(m, 129, 150), 14.0f);
  EXPECT_EQ(kernels::WeightAt(m, 5, 7), -0.75f);
  binder.CheckAllBound();
}

TEST_F(LoaderTest, LinearFp8ScaleErrors) {
  std::string p = Write("model.safetensors", Build({T("a.weight", "F8_E4M3", {256, 128}),
                                                    T("b.weight", "F8_E4M3", {256, 128}),
                                                    T("b.scale", "F8_E8M0", {2, 2}),
                                                    T("c.weight", "F8_E4M3", {256, 128}),
                                                    T("c.scale", "F32", {2, 1})}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  ExpectThrow([&] { binder.Linear("a", 256, 128, false); }, {dir_, "missing tensor 'a.scale'"});
  ExpectThrow([&] { binder.Linear("b", 256, 128, false); },
              {p, "tensor 'b.scale' has shape [2, 2], expected [2, 1]"});
  ExpectThrow([&] { binder.Linear("c", 256, 128, false); },
              {p, "tensor 'c.scale' has dtype F32, expected F8_E8M0"});
  ExpectThrow([&] { binder.Linear("a", 256, 256, false); },
              {p, "tensor 'a.weight' has shape [256, 128], expected [256, 256]"});
  ExpectThrow([&] { binder.Linear("missing", 1, 1, false); }, {"missing tensor 'missing.weight'"});
}

TEST_F(LoaderTest, LinearFp4) {
  // [4, 64] logical: weight [4, 32] bytes, scale [4, 2].
  FakeTensor w = T("ffn.experts.0.w1.weight", "I8", {4, 32});
  FakeTensor s = T("ffn.experts.0.w1.scale", "F8_E8M0", {4, 2});
  // Row 2, byte 19 holds k = 38 (low nibble) and k = 39 (high nibble).
  w.bytes[2 * 32 + 19] = uint8_t(FloatToE2m1(-1.5f) << 4 | FloatToE2m1(3.0f));
  s.bytes[2 * 2 + 1] = 127 - 1;  // 2^-1 for k in [32, 64)
  Write("model.safetensors", Build({w, s}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  ExpectThrow([&] { binder.Linear("ffn.experts.0.w1", 4, 64, false); },
              {"tensor 'ffn.experts.0.w1.weight' has dtype I8, expected"});
  kernels::WeightMatrix m = binder.Linear("ffn.experts.0.w1", 4, 64, true);
  EXPECT_EQ(m.dtype, DType::kI8);
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.cols, 64);
  EXPECT_EQ(kernels::WeightAt(m, 2, 38), 1.5f);    // 3.0 * 2^-1, low nibble = even k
  EXPECT_EQ(kernels::WeightAt(m, 2, 39), -0.75f);  // -1.5 * 2^-1
  binder.CheckAllBound();
}

TEST_F(LoaderTest, LinearFp4ScaleShapeWrong) {
  std::string p = Write("model.safetensors", Build({T("e.w2.weight", "I8", {4, 32}),
                                                    T("e.w2.scale", "F8_E8M0", {4, 4})}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  ExpectThrow([&] { binder.Linear("e.w2", 4, 64, true); },
              {p, "tensor 'e.w2.scale' has shape [4, 4], expected [4, 2]"});
  ExpectThrow([&] { binder.Linear("e.w2", 4, 48, true); },
              {p, "tensor 'e.w2.weight'", "not a multiple of 32"});
}

TEST_F(LoaderTest, LinearRejectsStrayScaleAndOddDTypes) {
  std::string p = Write("model.safetensors", Build({T("h.weight", "BF16", {2, 2}),
                                                    T("h.scale", "F8_E8M0", {1, 1}),
                                                    T("g.weight", "I64", {2, 2})}));
  auto ckpt = OpenOk();
  ASSERT_TRUE(ckpt);
  TensorBinder binder(*ckpt);
  ExpectThrow([&] { binder.Linear("h", 2, 2, false); },
              {p, "tensor 'h.scale' is unexpected", "'h.weight' is BF16"});
  ExpectThrow([&] { binder.Linear("g", 2, 2, true); },
              {p, "tensor 'g.weight' has dtype I64, expected BF16, F32, F8_E4M3 or I8"});
}

}  // namespace
}  // namespace dsv4
