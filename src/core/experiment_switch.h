// A process-wide on/off switch for paired A/B measurements (bench/README.md, "Paired A/B").
// A candidate change reads it where it differs from the current code, temporarily, and
// `decode_profile --ab` / `linear_ab` flip it step by step or call by call, so both sides
// run in the same minute of a shared machine (separate runs there moved 10-30% while the
// paired ratios repeated within a few percent). Nothing in the shipped code reads it.
#pragma once

#include <atomic>

namespace dsv4 {

inline std::atomic<bool>& ExperimentSwitch() {
  static std::atomic<bool> on{false};
  return on;
}

}  // namespace dsv4
