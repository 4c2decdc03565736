// The directory dsv4 keeps what it derives once and reuses across processes (the
// benchmark checkpoint, repacked weights): $XDG_CACHE_HOME/dsv4, else ~/.cache/dsv4, else
// /tmp/dsv4-cache. Not created here.
#pragma once

#include <string>

namespace dsv4 {

std::string DefaultCacheDir();

}  // namespace dsv4
