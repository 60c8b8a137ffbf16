// GPU kernels for the plan's rotary position embedding (rope, rope_grad) and
// token-mean cross-entropy (cross_entropy, cross_entropy_grad), with the CPU
// kernels' semantics, checks and messages (runtime/cpu/Rope.cpp,
// CrossEntropy.cpp).
//
// Both compute in the CPU kernel's type (f32, or f64 as soon as the CPU
// would) with its formula operation for operation (_rn intrinsics, no FMA
// contraction) and round once per output. rope's angles are the CPU's bits:
// the inverse frequencies are computed on the host by the CPU's own
// expression and passed by value; only sin/cos are the device's (evaluated
// in f64 for f32 angles). Cross-entropy sums each row in one block in a fixed
// order and the row losses in one block in a fixed order: the same bits every
// run, not the CPU's sequential sums. docs/gpu.md and GpuRopeLossTest.cpp
// give the bounds.
#pragma once

#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/Module.h"
#include "runtime/support/Tensor.h"

#include <cstddef>
#include <cstdint>

namespace pgc::cuda {

/// Sources (header-free, extern "C" kernels): pgc_rope_{float,double}_{i32,
/// i64} for rope and rope_grad; the cross-entropy kernels.
const KernelSource &ropeSource();
const KernelSource &crossEntropySource();

/// The widest head dim the rope kernel takes: its inverse frequencies (one
/// per pair) travel as a kernel argument of this many / 2 doubles.
constexpr int64_t kMaxRopeHeadDim = 512;

/// The CPU kernels' operand checks with their messages (no device needed),
/// plus the head dim limit above.
void validateRope(const DeviceTensor &x, const DeviceTensor &positions,
                  const DeviceTensor &out);
void validateRopeGrad(const DeviceTensor &dy, const DeviceTensor &positions,
                      const DeviceTensor &dx);

/// cpu::rope: x [B, H, L, D] (any float), positions i32/i64 [B, L], out of
/// x's shape and dtype; computes in f32 (f64 for f64 x).
void launchRope(const Module &module, const Stream &stream,
                const DeviceTensor &x, const DeviceTensor &positions,
                double theta, const DeviceTensor &out);
/// cpu::ropeGrad: the transposed rotation of dy into dx (any floats; f64
/// when either is).
void launchRopeGrad(const Module &module, const Stream &stream,
                    const DeviceTensor &dy, const DeviceTensor &positions,
                    double theta, const DeviceTensor &dx);

/// Labels are checked on the device, as the indexing kernels' ids: the
/// lowest position of a label that is neither in [0, V) nor the ignore index
/// goes to an 8-byte device word (all ones when there is none), and that row
/// counts as ignored. verify() synchronizes the stream and fails with the
/// CPU's message ("cross_entropy: label 9 at position 4 is outside [0, 8)
/// and is not the ignore index -100").
struct LabelCheck {
  api::CUdeviceptr word = 0;
  DeviceTensor labels;
  int64_t vocab = 0, ignoreIndex = 0;
  const char *op = "";
  void verify(const Stream &stream) const;
};

void validateCrossEntropy(const DeviceTensor &logits,
                          const DeviceTensor &labels, const DeviceTensor &out);
void validateCrossEntropyGrad(const DeviceTensor &logits,
                              const DeviceTensor &labels,
                              const DeviceTensor &dloss,
                              const DeviceTensor &dlogits);

/// Device scratch (bytes, 8-byte aligned) of the launches below: the count
/// of labels that count, and for the loss each row's loss in f32 (f64 for
/// f64 logits) for the final mean.
size_t crossEntropyWorkspaceBytes(const DeviceTensor &logits);
size_t crossEntropyGradWorkspaceBytes();

/// cpu::crossEntropy: logits [..., V] (any float), labels i32/i64 [...],
/// out rank 0, f32 (f64 for f64 logits). `workspace` holds at least
/// crossEntropyWorkspaceBytes(logits) and must not be used by anything else
/// until the launches finish; `labelWord` is 8 bytes, 8-byte aligned.
[[nodiscard]] LabelCheck
launchCrossEntropy(const Module &module, const Stream &stream,
                   const DeviceTensor &logits, const DeviceTensor &labels,
                   int64_t ignoreIndex, const DeviceTensor &out,
                   api::CUdeviceptr workspace, size_t workspaceBytes,
                   api::CUdeviceptr labelWord);
/// cpu::crossEntropyGrad: dlogits of logits' shape (any float), dloss rank 0
/// (any float), read on the device; f64 when any of them is.
[[nodiscard]] LabelCheck
launchCrossEntropyGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &logits, const DeviceTensor &labels,
                       int64_t ignoreIndex, const DeviceTensor &dloss,
                       const DeviceTensor &dlogits, api::CUdeviceptr workspace,
                       size_t workspaceBytes, api::CUdeviceptr labelWord);

} // namespace pgc::cuda
