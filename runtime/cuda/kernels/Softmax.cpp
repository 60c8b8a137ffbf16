// softmax and softmax_grad along one axis on the GPU: one block per line,
// in the CPU kernel's compute type and formula (runtime/cpu/Softmax.cpp).
#include "runtime/cuda/kernels/Reduce.h"

#include "runtime/support/Error.h"

#include <string>

namespace pgc::cuda {
namespace {

// A line is `extent` elements `inner` apart, starting at
// (line / inner) * extent * inner + line % inner, as on the CPU. The max is
// exact in any order (fmax drops NaN, as std::fmax does); exp(x - max) is
// recomputed in the last pass instead of being stored, which gives the same
// value since it is the same function of the same operands.
const char *const kKernels = R"CUDA(
template <typename Acc>
__device__ void pgcSoftmax(const void *x, int xType, void *out, int outType,
                           long long outer, long long extent,
                           long long inner) {
  __shared__ Acc scratch[32];
  long long lines = outer * inner;
  for (long long line = blockIdx.x; line < lines; line += gridDim.x) {
    long long s = (line / inner) * extent * inner + line % inner;
    Acc maximum = pgcNegInf<Acc>();
    for (long long i = threadIdx.x; i < extent; i += blockDim.x)
      maximum = pgcFmax(maximum, pgcLoad<Acc>(x, xType, s + i * inner));
    maximum = pgcBlockReduce(maximum, scratch, pgcNegInf<Acc>(), PgcFmax());
    Acc total = 0;
    for (long long i = threadIdx.x; i < extent; i += blockDim.x)
      total = pgcAdd(total, pgcExp(pgcSub(pgcLoad<Acc>(x, xType, s + i * inner),
                                          maximum)));
    total = pgcBlockReduce(total, scratch, Acc(0), PgcSum());
    for (long long i = threadIdx.x; i < extent; i += blockDim.x) {
      Acc e = pgcExp(pgcSub(pgcLoad<Acc>(x, xType, s + i * inner), maximum));
      pgcStore(out, outType, s + i * inner, pgcDiv(e, total));
    }
  }
}

template <typename Acc>
__device__ void pgcSoftmaxGrad(const void *y, int yType, const void *dy,
                               int dyType, void *dx, int dxType,
                               long long outer, long long extent,
                               long long inner) {
  __shared__ Acc scratch[32];
  long long lines = outer * inner;
  for (long long line = blockIdx.x; line < lines; line += gridDim.x) {
    long long s = (line / inner) * extent * inner + line % inner;
    Acc dot = 0;
    for (long long i = threadIdx.x; i < extent; i += blockDim.x)
      dot = pgcAdd(dot, pgcMul(pgcLoad<Acc>(y, yType, s + i * inner),
                               pgcLoad<Acc>(dy, dyType, s + i * inner)));
    dot = pgcBlockReduce(dot, scratch, Acc(0), PgcSum());
    for (long long i = threadIdx.x; i < extent; i += blockDim.x) {
      long long at = s + i * inner;
      pgcStore(dx, dxType, at,
               pgcMul(pgcLoad<Acc>(y, yType, at),
                      pgcSub(pgcLoad<Acc>(dy, dyType, at), dot)));
    }
  }
}

#define PGC_SOFTMAX(ACC)                                                       \
  extern "C" __global__ void pgc_softmax_##ACC(                                \
      const void *x, int xType, void *out, int outType, long long outer,      \
      long long extent, long long inner) {                                     \
    pgcSoftmax<ACC>(x, xType, out, outType, outer, extent, inner);            \
  }                                                                            \
  extern "C" __global__ void pgc_softmax_grad_##ACC(                           \
      const void *y, int yType, const void *dy, int dyType, void *dx,         \
      int dxType, long long outer, long long extent, long long inner) {       \
    pgcSoftmaxGrad<ACC>(y, yType, dy, dyType, dx, dxType, outer, extent,      \
                        inner);                                                \
  }
PGC_SOFTMAX(float)
PGC_SOFTMAX(double)
)CUDA";

struct Lines {
  long long outer = 0, extent = 0, inner = 1;
};

Lines linesAlong(const DeviceTensor &x, int64_t axis, const char *op) {
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t a = detail::normalizeAxisOf(axis, rank, op);
  Lines lines;
  lines.extent = x.shape[a];
  for (int64_t d = a + 1; d < rank; ++d)
    lines.inner *= x.shape[d];
  lines.outer = lines.extent * lines.inner == 0
                    ? 0
                    : x.numel() / (lines.extent * lines.inner);
  return lines;
}

LaunchShape lineShape(const Stream &stream, const Lines &lines) {
  LaunchShape shape;
  shape.blockX = reductionThreads(lines.extent);
  shape.gridX = detail::gridFor(stream, lines.outer * lines.inner, 32);
  return shape;
}

} // namespace

const KernelSource &softmaxSource() {
  static const KernelSource source{
      "softmax.cu", std::string(detail::reductionPrelude()) + kKernels, {}};
  return source;
}

void launchSoftmax(const Module &module, const Stream &stream,
                   const DeviceTensor &x, int64_t axis,
                   const DeviceTensor &out) {
  detail::requireFloatOperand(x, "softmax", "operand");
  if (out.dtype != x.dtype)
    fail("softmax: result has dtype {}, expected {}", dtypeName(out.dtype),
         dtypeName(x.dtype));
  detail::requireShapeOf(out, x.shape, "softmax", "result");
  Lines lines = linesAlong(x, axis, "softmax");
  if (lines.outer * lines.inner == 0)
    return;
  std::string name =
      x.dtype == DType::F64 ? "pgc_softmax_double" : "pgc_softmax_float";
  api::CUdeviceptr xp = x.address, outp = out.address;
  int xType = static_cast<int>(x.dtype), outType = static_cast<int>(out.dtype);
  void *arguments[] = {&xp,          &xType,        &outp,       &outType,
                       &lines.outer, &lines.extent, &lines.inner};
  launchKernel(stream, module.function(name.c_str()), lineShape(stream, lines),
               arguments, "softmax");
}

void launchSoftmaxGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &y, const DeviceTensor &dy,
                       int64_t axis, const DeviceTensor &dx) {
  const char *op = "softmax_grad";
  detail::requireShapeOf(dy, y.shape, op, "dy");
  detail::requireShapeOf(dx, y.shape, op, "dx");
  detail::requireFloatOperand(y, op, "y");
  detail::requireFloatOperand(dy, op, "dy");
  detail::requireFloatOperand(dx, op, "dx");
  Lines lines = linesAlong(y, axis, op);
  if (lines.outer * lines.inner == 0)
    return;
  std::string name = detail::anyF64({y.dtype, dy.dtype, dx.dtype})
                         ? "pgc_softmax_grad_double"
                         : "pgc_softmax_grad_float";
  api::CUdeviceptr yp = y.address, dyp = dy.address, dxp = dx.address;
  int yType = static_cast<int>(y.dtype), dyType = static_cast<int>(dy.dtype),
      dxType = static_cast<int>(dx.dtype);
  void *arguments[] = {&yp,     &yType,       &dyp,          &dyType,     &dxp,
                       &dxType, &lines.outer, &lines.extent, &lines.inner};
  launchKernel(stream, module.function(name.c_str()), lineShape(stream, lines),
               arguments, op);
}

} // namespace pgc::cuda
