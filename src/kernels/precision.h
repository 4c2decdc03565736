// Precise mode: every dot product accumulates in double and is rounded once, as our
// PyTorch reference does (exact products, f64 sums). Then the bf16 rounding points
// reproduce the reference's decisions except at exact ties, which makes golden tests
// tight. The default fast mode accumulates in fp32 with SIMD (a different, equally
// valid summation order). Process-wide; set before running a model (or DSV4_PRECISE=1).
#pragma once

namespace dsv4::kernels {

void SetPreciseMath(bool precise);
bool PreciseMath();

}  // namespace dsv4::kernels
