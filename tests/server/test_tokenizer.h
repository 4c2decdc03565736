// A byte-level test tokenizer for the server unit tests: ids 2..257 are the bytes, BOS 0,
// EOS 1, then <think>, </think>, the DSML marker, <｜User｜> (and with `fim` the FIM tokens).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsv4::server {

inline tokenizer::Tokenizer TestTokenizer(bool fim = false) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  // GPT-2 byte alphabet.
  std::vector<int> bs;
  for (int b = 33; b <= 126; ++b) bs.push_back(b);
  for (int b = 161; b <= 172; ++b) bs.push_back(b);
  for (int b = 174; b <= 255; ++b) bs.push_back(b);
  std::vector<int> cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    std::string u;
    const int cp = cs[i];
    if (cp < 0x80) {
      u += char(cp);
    } else {
      u += char(0xC0 | (cp >> 6));
      u += char(0x80 | (cp & 0x3F));
    }
    vocab[u] = bs[i] + 2;
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  const std::vector<std::string> specials = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                             "<think>", "</think>", "｜DSML｜", "<｜User｜>"};
  std::vector<std::string> all = specials;
  if (fim) {
    for (const char* t : {"<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>"}) all.push_back(t);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    added.push_back({{"id", i < 2 ? int(i) : int(256 + i)}, {"content", all[i]}, {"special", true}});
  }
  nlohmann::ordered_json tok = {{"added_tokens", added},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}}};
  auto t = tokenizer::Tokenizer::FromJson(tok.dump());
  EXPECT_TRUE(t.ok()) << t.error();
  return std::move(t.value());
}

}  // namespace dsv4::server
