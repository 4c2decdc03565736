// On/off switches read from the environment (DSV4_PRECISE, DSV4_BATCH_INVARIANT,
// DSV4_TILE_ORDER): unset gives the default, "0" off, anything else on.
#pragma once

#include <cstdlib>
#include <cstring>

namespace dsv4 {

inline bool EnvSwitch(const char* name, bool default_on) {
  const char* env = std::getenv(name);
  return env == nullptr ? default_on : std::strcmp(env, "0") != 0;
}

}  // namespace dsv4
