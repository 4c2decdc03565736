// The machine's measured fp32 FMA peak (all threads of the global pool), the ceiling the
// prefill benchmark reports its FLOP/s against.
#pragma once

namespace dsv4::kernels {

// GFLOP/s (one FMA = 2 FLOPs) of independent FMA chains of the widest vectors the CPU
// has (AVX-512, else AVX2; NEON on 64-bit ARM) on every thread; 0 on an x86 CPU without
// AVX2/FMA.
double MeasureFmaPeakGflops();

}  // namespace dsv4::kernels
