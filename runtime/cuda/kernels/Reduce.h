// GPU kernels for the plan's row reductions: reduce_sum/max/mean, cumsum,
// softmax and its gradient, RMSNorm and LayerNorm with their gradients, with
// the CPU kernels' semantics (runtime/cpu/Reduce.cpp, Softmax.cpp, Norms.cpp).
//
// Every float kernel computes in the CPU kernel's type (f32, or f64 as soon as
// the CPU would) with the CPU's formula, operation for operation, and rounds
// once to each output's dtype. Sums over a row run in one block in a fixed
// order (each thread sums a strided slice in index order, then a fixed
// butterfly over the warp and over the warps), so results are identical run
// to run, but they are not the CPU's sequential sums: docs/gpu.md gives the
// bounds the tests hold them to. Maxima, cumsum and reductions over a
// non-trailing axis (summed sequentially, one thread per output) are the CPU's
// bits.
#pragma once

#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/Module.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <vector>

namespace pgc::cuda {

/// Sources (header-free, extern "C" kernels). Each launcher below takes a
/// Module loaded from the source named in its comment.
const KernelSource &reduceSource();  // reductions and cumsum
const KernelSource &softmaxSource(); // softmax, softmaxGrad
const KernelSource &normsSource();   // rmsNorm, layerNorm and their grads

/// Threads per block of the one-block-per-row kernels for rows of `extent`
/// elements: each thread sums ceil(extent / threads) values in order, then
/// log2(threads) butterfly levels follow (the summation depth the error
/// bounds use).
int reductionThreads(int64_t extent);
/// The norm gradients' dw/db: rows are cut into chunks of this many rows,
/// each chunk summed in row order, then the chunk sums in chunk order.
int64_t normGradChunkRows(int64_t rows);
/// Whether a reduction over [outer, extent, inner] runs one thread per output
/// summing in index order (the CPU's order and bits) rather than one block
/// per output.
bool reductionIsSequential(int64_t extent, int64_t inner);

/// [outer, reduced, inner] for `axes` of a tensor of `shape`, ignoring
/// dimensions of size 1; fails naming `op` when the reduced dimensions are
/// not consecutive (the step launcher first transposes such a tensor by
/// reductionReorder).
struct ReductionView {
  int64_t outer = 1, extent = 1, inner = 1;
};
ReductionView reductionView(const Shape &shape,
                            const std::vector<int64_t> &axes, bool keepDims,
                            const Shape &outShape, const char *op);

/// For axes that are not consecutive (size-1 dimensions aside): the order of
/// dimensions that puts the kept ones first and the reduced ones last, each
/// in their order; empty when reductionView takes `axes` as they are.
/// Transposing x by it and reducing its trailing axes.size() dimensions gives
/// the same elements, each summed in the CPU's order (row-major over the
/// reduced dimensions). Axes are checked as cpu::reduceSum checks them.
std::vector<int64_t> reductionReorder(const Shape &shape,
                                      const std::vector<int64_t> &axes,
                                      const char *op);

enum class ReduceKind { Sum, Max, Mean };

/// cpu::reduceSum/Max/Mean on the device (reduceSource()). Floats (any float
/// out) and, for sum and max, i32/i64 (out of the same dtype).
void launchReduce(const Module &module, const Stream &stream, ReduceKind kind,
                  const DeviceTensor &x, const std::vector<int64_t> &axes,
                  bool keepDims, const DeviceTensor &out);
/// cpu::cumsum (reduceSource()): one thread per line, in the CPU's order.
void launchCumsum(const Module &module, const Stream &stream,
                  const DeviceTensor &x, int64_t axis, const DeviceTensor &out);

/// cpu::softmax and cpu::softmaxGrad (softmaxSource()).
void launchSoftmax(const Module &module, const Stream &stream,
                   const DeviceTensor &x, int64_t axis,
                   const DeviceTensor &out);
void launchSoftmaxGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &y, const DeviceTensor &dy,
                       int64_t axis, const DeviceTensor &dx);

/// cpu::rmsNorm / cpu::layerNorm (normsSource()).
void launchRmsNorm(const Module &module, const Stream &stream,
                   const DeviceTensor &x, const DeviceTensor &w, double eps,
                   bool unitOffset, const DeviceTensor &out);
void launchLayerNorm(const Module &module, const Stream &stream,
                     const DeviceTensor &x, const DeviceTensor &w,
                     const DeviceTensor &b, double eps,
                     const DeviceTensor &out);

/// Device scratch the norm gradients need (per-row statistics and per-chunk
/// partial sums of dw/db), in bytes, for x of `rows` x `width` computed in
/// f64 or f32.
size_t normGradWorkspaceBytes(int64_t rows, int64_t width, bool f64);
/// cpu::rmsNormGrad / cpu::layerNormGrad (normsSource()); `workspace` holds
/// at least normGradWorkspaceBytes() and must not be used by anything else
/// until the launches finish.
void launchRmsNormGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &x, const DeviceTensor &w,
                       const DeviceTensor &dy, double eps, bool unitOffset,
                       const DeviceTensor &dx, const DeviceTensor &dw,
                       api::CUdeviceptr workspace, size_t workspaceBytes);
void launchLayerNormGrad(const Module &module, const Stream &stream,
                         const DeviceTensor &x, const DeviceTensor &w,
                         const DeviceTensor &dy, double eps,
                         const DeviceTensor &dx, const DeviceTensor &dw,
                         const DeviceTensor &db, api::CUdeviceptr workspace,
                         size_t workspaceBytes);

namespace detail {
/// The device helpers every reduction source starts with: dtype loads and
/// single-rounding stores, non-contracted arithmetic, block reductions.
const char *reductionPrelude();
/// Host helpers shared by the three launcher files.
bool anyF64(std::initializer_list<DType> dtypes);
void requireFloatOperand(const DeviceTensor &t, const char *op,
                         const char *name);
void requireShapeOf(const DeviceTensor &t, const Shape &expected,
                    const char *op, const char *name);
int64_t normalizeAxisOf(int64_t axis, int64_t rank, const char *op);
unsigned gridFor(const Stream &stream, int64_t items, int64_t perSm);
} // namespace detail

} // namespace pgc::cuda
