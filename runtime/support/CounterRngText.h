// CounterRng.h's own text, for CUDA sources compiled by NVRTC: the dropout
// kernel and generated fused kernels draw their masks with the very code the
// CPU runs.
#pragma once

namespace pgc::rng {

/// The whole of runtime/support/CounterRng.h, embedded at configure time.
const char *counterRngSourceText();

} // namespace pgc::rng
