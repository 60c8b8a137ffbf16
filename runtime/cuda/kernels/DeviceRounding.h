// CUDA device functions that round an f32 to bf16 or f16 bits exactly as
// runtime/support/DType.h's f32ToBf16 and f32ToF16 do, as source text that
// kernel sources put in front of their own.
#pragma once

namespace pgc::cuda {

/// `f32ToBf16(float)` and `f32ToF16(float)`, __device__ __forceinline__,
/// returning the 16 bits; header-free like every pgc kernel source.
const char *deviceFloatRoundingSource();

} // namespace pgc::cuda
