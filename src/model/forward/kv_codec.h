// Lossless compact encodings of cached vectors (spec §2.4, §13.2-13.3). With the
// reference's activation quantisation on, a KV vector's non-rope dims come out of Q8_64
// (e4m3 code x power-of-two scale) and an indexer key out of Q4_32 (e2m1 code x
// power-of-two scale), so storing codes + ue8m0 scales reproduces the bf16 values bit
// for bit. The encoders check that, and throw Error for a value off the grid.
#pragma once

#include <cstdint>

namespace dsv4 {

// FP8 KV entry of `dim` values whose last `rope_dim` are the rope part:
// [nope e4m3 codes | rope bf16 | one ue8m0 scale per 64 nope dims | pad to 8 bytes].
// V4-Flash (512, 64): 448 + 128 + 7 + 1 = 584 bytes (FlashMLA "MODEL1", spec §13.3).
int64_t Fp8EntryBytes(int64_t dim, int64_t rope_dim);
void EncodeFp8Entry(const float* values, int64_t dim, int64_t rope_dim, uint8_t* out);
// bf16 bits of the entry's values (exact).
void DecodeFp8Entry(const uint8_t* in, int64_t dim, int64_t rope_dim, uint16_t* out);

// FP4 key of `dim` values (dim % 32 == 0): dim/2 bytes of e2m1 codes (low nibble
// first) and dim/32 ue8m0 scales: 68 bytes for the 128-dim indexer key.
void EncodeFp4Key(const float* values, int64_t dim, uint8_t* codes, uint8_t* scales);
void DecodeFp4Key(const uint8_t* codes, const uint8_t* scales, int64_t dim, float* out);

// The e4m3 code of a value exactly on the e4m3 grid (checked: throws Error otherwise).
uint8_t ExactE4m3Code(float v);
// The e2m1 code of a value exactly on the e2m1 grid (checked).
uint8_t ExactE2m1Code(float v);
// The ue8m0 byte of a power of two in [2^-127, 2^127].
uint8_t Ue8m0Code(float pow2);

}  // namespace dsv4
