#include "core/cache_dir.h"

#include <cstdlib>

namespace dsv4 {

std::string DefaultCacheDir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') return std::string(x) + "/dsv4";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.cache/dsv4";
  return "/tmp/dsv4-cache";
}

}  // namespace dsv4
