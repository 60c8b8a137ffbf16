// GPU kernels for the plan's attention and attention_grad ops: grouped-query
// scaled dot-product attention with an optional additive or Bool mask, with
// the CPU kernels' semantics, compute type and error messages
// (runtime/cpu/Attention.cpp).
//
// Every sum runs in the CPU's order (dot products over the head dimension,
// softmax totals and P V over keys, dK/dV over the group's query heads and
// positions) with non-contracted _rn arithmetic, one thread per sum, so the
// only operation whose bits differ from the CPU's is exp (CUDA's expf/exp
// against glibc's). No float atomics: results are identical run to run.
// docs/gpu.md ("Attention kernels") gives the design and the error bound the
// tests hold the kernels to.
#pragma once

#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/Module.h"

#include <cstddef>
#include <cstdint>

namespace pgc::cuda {

/// Source of every attention kernel (header-free, extern "C").
const KernelSource &attentionSource();

/// The operands' dimensions as the CPU kernel reads them: q [B, Hq, L, D],
/// k [B, Hkv, S, D], v [B, Hkv, S, Dv], mask [B or 1, Hq or 1, L, S], and
/// whether the op computes in f64 (any float operand is f64) or f32.
struct AttentionShape {
  int64_t batch = 0, queryHeads = 0, kvHeads = 0, queryLength = 0,
          keyLength = 0, headDim = 0, valueDim = 0;
  // Offsets of the mask's [b, h] plane (0 for a broadcast dim of size 1).
  int64_t maskBatchStride = 0, maskHeadStride = 0;
  bool f64 = false;
};

/// cpu::attention's and cpu::attentionGrad's checks, in their order and with
/// their messages; they read only shapes and dtypes, so they need no device
/// (addresses may be 0).
AttentionShape validateAttention(const DeviceTensor &q, const DeviceTensor &k,
                                 const DeviceTensor &v,
                                 const DeviceTensor *mask,
                                 const DeviceTensor &out);
AttentionShape
validateAttentionGrad(const DeviceTensor &q, const DeviceTensor &k,
                      const DeviceTensor &v, const DeviceTensor *mask,
                      const DeviceTensor &dout, const DeviceTensor &dq,
                      const DeviceTensor &dk, const DeviceTensor &dv);

/// Device scratch, in bytes: the forward keeps each query row's scores and
/// probabilities ([B Hq L, S] of the compute type), the gradient those and the
/// score gradients (twice as much).
size_t attentionWorkspaceBytes(const AttentionShape &shape);
size_t attentionGradWorkspaceBytes(const AttentionShape &shape);

/// cpu::attention on the device (attentionSource()). `workspace` holds at
/// least attentionWorkspaceBytes() and must not be used by anything else until
/// the launch finishes; `mask` may be null.
void launchAttention(const Module &module, const Stream &stream,
                     const DeviceTensor &q, const DeviceTensor &k,
                     const DeviceTensor &v, const DeviceTensor *mask,
                     double scale, const DeviceTensor &out,
                     api::CUdeviceptr workspace, size_t workspaceBytes);
/// cpu::attentionGrad on the device (attentionSource()): dq, dk and dv from
/// the forward's operands and dout; `workspace` holds at least
/// attentionGradWorkspaceBytes().
void launchAttentionGrad(const Module &module, const Stream &stream,
                         const DeviceTensor &q, const DeviceTensor &k,
                         const DeviceTensor &v, const DeviceTensor *mask,
                         double scale, const DeviceTensor &dout,
                         const DeviceTensor &dq, const DeviceTensor &dk,
                         const DeviceTensor &dv, api::CUdeviceptr workspace,
                         size_t workspaceBytes);

/// Query rows one block of the row kernels handles together (they share
/// every key and value load), and keys one block of the dK/dV kernel handles.
constexpr int kAttentionTileRows = 8;
constexpr int kAttentionTileKeys = 8;

} // namespace pgc::cuda
