// Attention scores of several heads against the same keys in the fast mode where the
// products run in tile order (kernels/tile_order.h: AMX present and DSV4_TILE_ORDER not 0):
// the tile unit's arithmetic over the head dimension. For each head h and key u, the d
// values are taken 32 at a time in order (the last group padded with zeros), and per group
//   E = O = 0;  for i in 0..15:  E = fma(q[2i], k[2i], E);  O = fma(q[2i+1], k[2i+1], O)
//   out = out + (E + O)                                   (out starting at +0)
// with subnormal inputs and results flushed to zero; q rounded to bf16 (the caller's are
// bf16 values already). Without tile order the scores take DotKernels::dot_bf16_keys. On
// AMX a 64-key block for 64 heads of 512 dims is 256 tile products (the vdpbf16ps kernel
// was ~8% of a 512-token prefill chunk's samples).
#pragma once

#include <cstdint>
#include <memory>

namespace dsv4::kernels {

// out[h * n + u] for `heads` query rows q + h * d (bf16-exact fp32) and n bf16 key rows.
void AttentionScoresTileRef(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n, int64_t d,
                            float* out);

// One query's tile-order scores against block after block of keys (the query's tiles are
// laid out once per query, not per block).
class TileScores {
 public:
  virtual ~TileScores() = default;
  // The query: heads rows of d values (bf16-exact fp32), read during this call only.
  virtual void SetQuery(const float* q, int64_t heads, int64_t d) = 0;
  // out[h * n + u] for the n key rows.
  virtual void Score(const uint16_t* const* keys, int64_t n, float* out) = 0;
};
// AttentionScoresTileRef behind the interface.
std::unique_ptr<TileScores> NewTileScoresRef();
// On AMX tiles (bit-identical to the reference); nullptr without AMX (AmxActive()).
std::unique_ptr<TileScores> NewTileScoresAmx();
// NewTileScoresAmx where tile order is active, else nullptr (the caller keeps
// DotKernels::dot_bf16_keys).
std::unique_ptr<TileScores> NewActiveTileScores();

}  // namespace dsv4::kernels
