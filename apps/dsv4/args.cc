#include "args.h"

#include <fstream>
#include <iostream>
#include <sstream>

namespace dsv4::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& flags,
           const std::set<std::string>& options) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    Require(a.rfind("--", 0) == 0, "unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      Require(options.count(name) > 0, "unknown option --" + name);
    } else if (flags.count(name)) {
      value = "1";
    } else {
      Require(options.count(name) > 0, "unknown option --" + name);
      Require(i + 1 < argc, "option --" + name + " needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::Required(const std::string& name) const {
  auto it = values_.find(name);
  Require(it != values_.end(), "missing required option --" + name);
  return it->second;
}

int64_t Args::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    long long v = std::stoll(it->second, &used);
    Require(used == it->second.size(), "");
    return v;
  } catch (...) {
    throw Error("option --" + name + " expects an integer, got '" + it->second + "'");
  }
}

void PrintReport(const nlohmann::ordered_json& report, bool json) {
  if (json) {
    std::cout << report.dump() << "\n";
    return;
  }
  for (const auto& [key, value] : report.items()) std::cout << key << ": " << value.dump() << "\n";
}

std::vector<int32_t> ParseTokenList(const std::string& spec) {
  std::string text = spec;
  if (!spec.empty() && spec[0] == '@') {
    std::ifstream in(spec.substr(1));
    Require(bool(in), "cannot read token file " + spec.substr(1));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  for (char& ch : text) {
    if (ch == ',' || ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
  }
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    Require(used == item.size() && v >= 0 && v <= INT32_MAX, "bad token id '" + item + "'");
    ids.push_back(int32_t(v));
  }
  return ids;
}

}  // namespace dsv4::cli
