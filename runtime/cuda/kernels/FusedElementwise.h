// A fused elementwise bf16 kernel (GeGLU: gelu_tanh(gate) * up), the model for
// what codegen will emit, and its CPU reference.
#pragma once

#include "runtime/cuda/Module.h"
#include "runtime/support/Tensor.h"

namespace pgc::cuda {

/// Source of `pgc_geglu_bf16(gate, up, out, n)`: out = bf16(gelu_tanh(gate)
/// * up), computed in f32, 8 values per thread with 16-byte loads and stores.
const KernelSource &gegluSource();

/// The CPU reference: the same formula in f32 with std::tanh, rounded to
/// bf16. GPU results may differ by one bf16 step where tanhf differs.
Tensor gegluReference(const Tensor &gate, const Tensor &up);

/// Launches on `stream`; all three pointers 16-byte aligned.
void launchGeglu(const Module &module, const Stream &stream,
                 api::CUdeviceptr gate, api::CUdeviceptr up,
                 api::CUdeviceptr out, int64_t count);

} // namespace pgc::cuda
