// Precise mode: every dot product accumulates in double and is rounded once, as our
// PyTorch reference does (exact products, f64 sums). Then the bf16 rounding points
// reproduce the reference's decisions except at exact ties, which makes golden tests
// tight. The default fast mode accumulates in fp32 with SIMD (a different, equally
// valid summation order). Process-wide; set before running a model (or DSV4_PRECISE=1).
#pragma once

namespace dsv4::kernels {

void SetPreciseMath(bool precise);
bool PreciseMath();

// Batch invariance (the default): in fast mode too, a row's arithmetic never depends on
// the batch or chunk it is computed in (README). Off (SetBatchInvariant(false), or
// DSV4_BATCH_INVARIANT=0 in the environment), FP8/FP4 products of at least kAmxMinTokens
// rows run on AMX tiles where the CPU has them (kernels/linear_amx.h): several times the
// prefill throughput there, but a row's bits then depend on how many rows share its
// products (still within fp32 summation error of the exact result). No effect without AMX,
// nor on products in tile order (kernels/tile_order.h, the default with AMX), which are
// batch-invariant on the tiles too.
void SetBatchInvariant(bool invariant);
bool BatchInvariant();

}  // namespace dsv4::kernels
