// The dropout kernel on the GPU: the same counter-based mask as the CPU's
// (runtime/support/CounterRng.h), so both keep the same elements.
#pragma once

#include "runtime/cuda/Module.h"

#include <cstdint>
#include <string>

namespace pgc::cuda {

/// Source of `pgc_dropout_f32(x, out, n, base, p, scale)`: CounterRng.h's
/// text followed by the kernel, so the mask is the very function the CPU
/// kernel (runtime/cpu/Dropout.cpp) evaluates.
const KernelSource &dropoutSource();

/// out = dropout(x) for f32 x of `count` elements with key [seed, counter]
/// and `site`, as cpu::dropout: the same bits. 0 <= p < 1.
void launchDropout(const Module &module, const Stream &stream,
                   api::CUdeviceptr x, api::CUdeviceptr out, int64_t count,
                   uint64_t seed, uint64_t counter, const std::string &site,
                   double p);

} // namespace pgc::cuda
