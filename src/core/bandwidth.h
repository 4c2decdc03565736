// Measures this machine's memory bandwidth with all threads of the global pool, for
// the benchmark's roofline (decode is bound by the bytes of weights it reads).
#pragma once

#include <cstddef>

namespace dsv4 {

struct BandwidthResult {
  double read_gb_s;  // bytes read per second (a streaming sum over the buffer)
  double copy_gb_s;  // STREAM "copy": (bytes read + bytes written) per second
};

// Uses buffers of `bytes` (far larger than the caches); best of `repeats` passes.
BandwidthResult MeasureBandwidth(size_t bytes, int repeats);

}  // namespace dsv4
