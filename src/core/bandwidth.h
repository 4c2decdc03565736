// Measures this machine's memory bandwidth with all threads of the global pool, for
// the benchmark's roofline (decode is bound by the bytes of weights it reads).
#pragma once

#include <cstddef>

namespace dsv4 {

struct BandwidthResult {
  double read_gb_s;  // bytes read per second: ReadOnce's best of four streams and of one
                     // stream per thread, both prefetching 4 KiB ahead
  // STREAM "copy": (bytes read + bytes written) per second, the faster of memcpy and a
  // copy with non-temporal stores (x86-64: 1.1-1.6x memcpy's reading on the 2-core Xeon
  // VM, whose ordinary stores first read each line they write: bench/RESULTS.md,
  // fourteenth session).
  double copy_gb_s;
};

// How ReadOnce walks memory: each thread's contiguous share as `streams` sequential
// streams far apart, read in turn a line each, with a software prefetch `ahead` bytes in
// front of each (0: none) into L1, or with `l2` into L2 only.
struct ReadPattern {
  int streams = 4;
  size_t ahead = 4096;
  bool l2 = false;
};

// Seconds for the global pool to read `bytes` at p once (summing its whole 64-bit words;
// p 8-byte aligned). The default pattern is the decode GEMVs' own: four streams far apart
// with a prefetch 4 KiB ahead. (One stream per thread without prefetch reads about half as
// fast on the 2-core Xeon VM, 17.8-20.9 against 38.3-39.6 GB/s: bench/RESULTS.md,
// fourteenth session; with the prefetch, one stream is as fast or faster: eighteenth.)
double ReadOnce(const void* p, size_t bytes, ReadPattern pattern = {});

// Uses buffers of `bytes` (far larger than the caches); best of `repeats` passes.
BandwidthResult MeasureBandwidth(size_t bytes, int repeats);

}  // namespace dsv4
