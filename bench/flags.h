// Command-line flags of the plain bench programs: `--name value` pairs.
#pragma once

#include <string>

namespace dsv4::bench {

// The value after `--name` among argv[first..argc), or `def` when absent (first = 2 skips
// a subcommand).
inline std::string Flag(int argc, char** argv, const std::string& name, const std::string& def, int first = 1) {
  for (int i = first; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return def;
}

}  // namespace dsv4::bench
