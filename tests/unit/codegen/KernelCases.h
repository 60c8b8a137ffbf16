// The fused elementwise groups the codegen tests emit, compile and run: every
// supported op with every dtype it takes, and chains like the model's.
#pragma once

#include "compiler/Codegen/CudaElementwise.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pgc::codegen::testing {

/// One group, in a plan whose entry point "group" runs its steps op by op
/// (inputs named "x0", "x1", ... in buffer order, outputs "out0", ... in the
/// group's output order), so the CPU reference executor can run it unfused.
struct KernelCase {
  std::string name;
  Plan plan;
  ElementwiseGroup group;
  /// Largest distance from the CPU's result allowed, in units in the last
  /// place of the output's dtype (0: bit for bit), or in absolute value
  /// times the element's largest |input| (at least 1), for f64 gelu, whose
  /// 1 + tanh(u) cancels for negative inputs.
  int64_t ulps = 0;
  double absolute = 0;
};

/// Builds one case: buffers of `count` elements, steps in order; inputs and
/// outputs of the group as pg-fuse's lowering derives them.
class CaseBuilder {
public:
  CaseBuilder(std::string name, int64_t count);
  /// A run-time input of the entry point.
  uint32_t input(DType dtype);
  /// A dropout key input: i64 [2].
  uint32_t key();
  /// A rank-0 input (one element), for a broadcast to spread.
  uint32_t scalar(DType dtype);
  /// A Constant with every element `value` (as Tensor::set converts it).
  uint32_t splat(DType dtype, double value);
  /// A Constant of arbitrary bytes with `shape`.
  uint32_t constant(DType dtype, Shape shape, std::vector<uint8_t> bytes);
  /// Appends a step writing a new buffer of `dtype`; returns that buffer.
  uint32_t step(const std::string &op, std::vector<uint32_t> inputs,
                DType dtype,
                std::map<std::string, StepAttribute> attributes = {});
  /// Marks a buffer as needed after the group (stored by the kernel).
  void output(uint32_t buffer);
  KernelCase finish(int64_t ulps = 0, double absolute = 0);

  Plan &plan() { return case_.plan; }

private:
  uint32_t addBuffer(DType dtype, Shape shape, BufferRole role);
  KernelCase case_;
  int64_t count_;
};

StepAttribute textAttribute(const std::string &text);
StepAttribute realAttribute(double value);

/// Every case the tests use, each buffer `count` elements long.
std::vector<KernelCase> allKernelCases(int64_t count);

/// Random values of `dtype` with the awkward ones mixed in (signed zeros,
/// infinities, NaN, subnormals, values that saturate integer casts). Integer
/// tensors hold no zero (an integer divisor of 0 is an error on the CPU).
Tensor randomTensor(DType dtype, Shape shape, uint64_t seed);

} // namespace pgc::codegen::testing
