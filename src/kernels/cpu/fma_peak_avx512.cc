// Compiled with -mavx512f. The AVX-512 twin of fma_peak_avx2.cc's chains (16 lanes).
// GCC 12's _mm512_reduce_add_ps trips its own -Wuninitialized inside the header.
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

namespace dsv4::kernels {

// iterations x 10 independent 16-lane FMA chains; returns a value to keep them live.
float FmaChainsAvx512(int64_t iterations) {
  __m512 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 10
    for (int i = 0; i < 10; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}

}  // namespace dsv4::kernels
