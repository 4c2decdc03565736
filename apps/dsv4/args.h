// Minimal command-line flag parsing shared by the subcommands: --name value, --flag.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dsv4::cli {

class Args {
 public:
  // Parses argv[first..]; `flags` are options that take no value. Throws Error on
  // unknown options (anything not in `flags` or `options`).
  Args(int argc, char** argv, int first, const std::set<std::string>& flags,
       const std::set<std::string>& options);
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::string Required(const std::string& name) const;
  int64_t GetInt(const std::string& name, int64_t fallback) const;

 private:
  std::map<std::string, std::string> values_;
};

// Prints a report: one JSON line (json) or "key: value" lines.
void PrintReport(const nlohmann::ordered_json& report, bool json);

// "5,17,3" or "5 17 3" or "@file" (the file holds such a list) -> ids.
std::vector<int32_t> ParseTokenList(const std::string& spec);

}  // namespace dsv4::cli
