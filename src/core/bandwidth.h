// Measures this machine's memory bandwidth with all threads of the global pool, for
// the benchmark's roofline (decode is bound by the bytes of weights it reads).
#pragma once

#include <cstddef>

namespace dsv4 {

struct BandwidthResult {
  double read_gb_s;  // bytes read per second (ReadOnce)
  // STREAM "copy": (bytes read + bytes written) per second, the faster of memcpy and a
  // copy with non-temporal stores (x86-64: 1.1-1.6x memcpy's reading on the 2-core Xeon
  // VM, whose ordinary stores first read each line they write: bench/RESULTS.md,
  // fourteenth session).
  double copy_gb_s;
};

// Seconds for the global pool to read `bytes` at p once (summing its whole 64-bit words;
// p 8-byte aligned): each thread its contiguous share, in four streams far apart
// with software prefetch 4 KiB ahead, as the decode GEMVs walk their weights. One
// sequential stream per thread reads about half as fast on the 2-core Xeon VM (17.8-20.9
// against 38.3-39.6 GB/s, bench/RESULTS.md fourteenth session), which understated the
// machine's read bandwidth below what decode itself reached.
double ReadOnce(const void* p, size_t bytes);

// Uses buffers of `bytes` (far larger than the caches); best of `repeats` passes.
BandwidthResult MeasureBandwidth(size_t bytes, int repeats);

}  // namespace dsv4
