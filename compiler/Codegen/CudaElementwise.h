// CUDA C++ for one fused group of elementwise plan steps: a single kernel that
// computes, element by element, exactly what the CPU reference executor
// computes step by step.
//
// The kernel contract (what a launcher relies on):
//
//   extern "C" __global__ void <name>(const T_a *in_a, ..., T_o *out_o, ...,
//                                     long long count)
//
// - Parameters are the group's inputs in `inputs` order, leaving out every
//   input that is a splat constant (a Constant buffer whose elements all have
//   the same bytes: its value is a literal in the source), then the outputs in
//   `outputs` order, then the element count. kernelArguments() lists the
//   buffers in that order.
// - T is the buffer's storage type: __nv_bfloat16 (bf16), __half (f16), float,
//   double, int (i32), long long (i64), unsigned char (u8, and i1 stored as one
//   byte 0 or 1). Inputs are const.
// - A dropout step's key (i64 [2]: seed, counter) is an input like any other
//   but is read as key[0], key[1], not per element.
// - The body is a grid-stride loop over [0, count): any 1-D grid and block
//   work. Element i's inputs are all read before any of its outputs is written,
//   so an output may occupy exactly the memory of an input (in place), but
//   buffers must not overlap partially.
// - The source depends on the steps' ops, dtypes and attributes and on the
//   positions of buffers in the group, never on buffer indices, names or source
//   locations: identical groups of different layers give identical text.
//
// Numerics: each step computes in the CPU kernel's accumulation type (f32 for
// bf16/f16/f32, f64 when a float operand is f64) and rounds its result once,
// to nearest even, to its own buffer's dtype, as the unfused plan stores it;
// docs/gpu.md ("Generated elementwise kernels") states the per-op contract.
#pragma once

#include "runtime/artifact/Plan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::codegen {

/// A fused group in plan terms: steps run in order; `inputs` are the buffers
/// the steps read that no step of the group writes (loaded from global memory),
/// `outputs` the buffers written by the group that are needed outside it
/// (stored). Every step's buffers have the same element count (a dropout key,
/// i64 [2], excepted).
struct ElementwiseGroup {
  std::string name; // the extern "C" kernel symbol
  std::vector<PlanStep> steps;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
};

/// Whether a plan op can be part of a group: add, sub, mul, div, max, min,
/// neg, exp, log, sqrt, rsqrt, tanh, gelu_tanh, gelu_tanh_grad, compare,
/// select, cast, dropout, and broadcast of a one-element operand (read once,
/// as element 0, before the loop).
bool isFusibleElementwise(const std::string &op);

/// Whether `buffer` is a Constant whose elements all have the same bytes (and
/// so becomes a literal instead of a kernel parameter).
bool isSplatConstant(const PlanBuffer &buffer);

/// The buffers passed to the kernel, in parameter order: the inputs that are
/// not splat constants, then the outputs. The element count follows them.
std::vector<uint32_t> kernelArguments(const Plan &plan,
                                      const ElementwiseGroup &group);

/// CUDA C++ source of one translation unit defining the kernel described
/// above. Compile it with -std=c++17 and the toolkit's include directory
/// (runtime/cuda/Nvrtc adds both) and without fast-math options: the kernel
/// spells out every rounding it needs, so --fmad does not change its results,
/// but --ftz and --prec-* would. Throws pgc::Error naming the step
/// (PlanStep::describe()) for an op, dtype, arity, attribute or element count
/// it cannot emit, and naming the group for an inconsistent input or output
/// list.
std::string emitElementwiseKernel(const Plan &plan,
                                  const ElementwiseGroup &group);

} // namespace pgc::codegen
