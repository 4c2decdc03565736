#include "server/argument_fragments.h"

namespace dsv4::server {

std::vector<std::string> ArgumentFragments(const std::string& json) {
  std::vector<std::string> out;
  std::string run;
  auto flush = [&] {
    if (!run.empty()) out.push_back(std::move(run));
    run.clear();
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ',' || c == '"') {
      flush();
      out.push_back(std::string(1, c));
      continue;
    }
    const bool char_start = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (char_start && run.size() >= 16) flush();
    run += c;
  }
  flush();
  return out;
}

}  // namespace dsv4::server
