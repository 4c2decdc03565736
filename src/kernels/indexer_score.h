// Lightning-indexer scoring over FP4 keys (spec §6.7 step 4), the one decode cost that
// grows linearly with context. With activation quantisation on, both the query heads
// (Q4_32) and the keys (stored FP4, kv_codec.h) are e2m1 codes times power-of-two
// block scales, so each head's dot product is an exact integer sum per 32-block times a
// power of two: the kernels compute it exactly (int8 multiply-adds, double combination)
// and then round it to fp32, which is what the reference's f64 dot (precise mode) gives.
// One scalar reference, an AVX2 and an AVX-512 VNNI version; a test checks each agrees
// with the reference bit for bit.
#pragma once

#include <cstdint>
#include <vector>

namespace dsv4::kernels {

// One query of the indexer in FP4 form.
struct Fp4IndexQuery {
  int64_t heads = 0, dim = 0;     // dim % 32 == 0
  std::vector<int8_t> values;     // [heads, dim]: 2·e2m1 value (integers -12..12)
  std::vector<int32_t> exps;      // [heads, dim/32]: block scale 2^exps
  std::vector<float> weights;     // [heads]: bf16-valued head weights w_h
};

// scores[j] for the n keys codes [n, dim/2] (e2m1, low nibble first) and scales
// [n, dim/32] (ue8m0): bf16( Σ_h bf16( max(bf16(fp32(q_h·k_j)), 0) · w_h ) ), the head
// sum in double (as precise mode's reference).
using IndexerScoreFn = void (*)(const Fp4IndexQuery& q, const uint8_t* codes,
                                const uint8_t* scales, int64_t n, float* scores);

void IndexerScoreFp4Ref(const Fp4IndexQuery& q, const uint8_t* codes, const uint8_t* scales,
                        int64_t n, float* scores);
// AVX2 version, or nullptr without AVX2. Needs dim % 64 == 0 (else use the reference).
IndexerScoreFn IndexerScoreFp4Avx2();
// AVX-512 VNNI version (F/BW/VNNI/VBMI), or nullptr without them. Needs dim % 32 == 0.
IndexerScoreFn IndexerScoreFp4Avx512();
// For the SIMD kernels (defined in a plain translation unit, so either may call it): the
// keys in groups of `group`, the last partial group as a zero-padded copy (codes 0,
// scales 127), so a kernel always reads whole groups.
class KeyGroups {
 public:
  KeyGroups(const uint8_t* codes, const uint8_t* scales, int64_t n, int64_t dim, int64_t group);
  // Keys j0 .. j0 + group - 1 (j0 < n): their codes and scales; returns how many are real.
  int64_t At(int64_t j0, const uint8_t** codes, const uint8_t** scales);

 private:
  const uint8_t* codes_;
  const uint8_t* scales_;
  int64_t n_, row_, blocks_, group_;
};

// The best kernel for q's shape on this CPU (DSV4_ISA=ref forces the reference,
// DSV4_ISA=avx2 caps the choice at AVX2).
IndexerScoreFn ActiveIndexerScore(const Fp4IndexQuery& q);

}  // namespace dsv4::kernels
