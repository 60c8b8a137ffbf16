// The CUDA device helpers that generated elementwise kernels call: one per
// runtime/cpu function whose numerics need more than an operator.
#pragma once

#include <cstddef>

namespace pgc::codegen {

// Device helpers, each emitted only into kernels that call it (NVRTC warns
// about unused static functions). Float arithmetic goes through the _rn
// intrinsics, which NVCC never contracts into an FMA: the CPU build performs
// each operation with its own rounding, and so must the kernel, whatever
// --fmad says. Each helper mirrors one function of runtime/cpu.
struct Helper {
  const char *name;
  const char *needs; // another helper this one calls, or null
  const char *code;
};

/// Every helper, each after the helper it needs (so emitting in this order
/// defines callees first).
extern const Helper kHelpers[];
extern const size_t kHelperCount;

} // namespace pgc::codegen
