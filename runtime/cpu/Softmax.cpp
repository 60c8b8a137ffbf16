// Softmax along one axis (max-subtracted, in f32 or f64) and its backward
// kernel.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cmath>

namespace pgc::cpu {
namespace {

// The elements along the axis form "lines": `outer * inner` lines of
// `extent` elements, `inner` apart.
struct Lines {
  int64_t outer, extent, inner;
  int64_t start(int64_t line) const {
    return (line / inner) * extent * inner + line % inner;
  }
};

Lines linesAlong(const Tensor &x, int64_t axis, const char *op) {
  int64_t a = normalizeAxis(axis, x.rank(), op);
  Lines lines;
  lines.extent = x.dim(a);
  lines.inner = rowMajorStrides(x.shape())[a];
  lines.outer = lines.extent * lines.inner == 0
                    ? 0
                    : x.numel() / (lines.extent * lines.inner);
  return lines;
}

template <typename Acc>
void softmaxTyped(const Tensor &x, const Lines &lines, Tensor &out) {
  FloatInput<Acc> fx(x, "softmax", "operand");
  FloatOutput<Acc> fo(out, "softmax", "result");
  parallelFor(lines.outer * lines.inner, grainFor(lines.extent * 8),
              [&](int64_t begin, int64_t end) {
                for (int64_t line = begin; line < end; ++line) {
                  int64_t s = lines.start(line), step = lines.inner;
                  Acc maximum = -INFINITY;
                  for (int64_t i = 0; i < lines.extent; ++i)
                    maximum = std::fmax(maximum, fx[s + i * step]);
                  Acc total = 0;
                  for (int64_t i = 0; i < lines.extent; ++i) {
                    Acc e = std::exp(fx[s + i * step] - maximum);
                    fo[s + i * step] = e;
                    total += e;
                  }
                  for (int64_t i = 0; i < lines.extent; ++i)
                    fo[s + i * step] /= total;
                }
              });
  fo.commit();
}

template <typename Acc>
void softmaxGradTyped(const Tensor &y, const Tensor &dy, const Lines &lines,
                      Tensor &dx) {
  FloatInput<Acc> fy(y, "softmax_grad", "y"), fdy(dy, "softmax_grad", "dy");
  FloatOutput<Acc> fdx(dx, "softmax_grad", "dx");
  parallelFor(lines.outer * lines.inner, grainFor(lines.extent * 4),
              [&](int64_t begin, int64_t end) {
                for (int64_t line = begin; line < end; ++line) {
                  int64_t s = lines.start(line), step = lines.inner;
                  Acc dot = 0;
                  for (int64_t i = 0; i < lines.extent; ++i)
                    dot += fy[s + i * step] * fdy[s + i * step];
                  for (int64_t i = 0; i < lines.extent; ++i)
                    fdx[s + i * step] =
                        fy[s + i * step] * (fdy[s + i * step] - dot);
                }
              });
  fdx.commit();
}

} // namespace

void softmax(const Tensor &x, int64_t axis, Tensor &out) {
  requireFloat(x, "softmax", "operand");
  requireDType(out, x.dtype(), "softmax", "result");
  requireShape(out, x.shape(), "softmax", "result");
  Lines lines = linesAlong(x, axis, "softmax");
  if (x.dtype() == DType::F64)
    return softmaxTyped<double>(x, lines, out);
  softmaxTyped<float>(x, lines, out);
}

void softmaxGrad(const Tensor &y, const Tensor &dy, int64_t axis, Tensor &dx) {
  requireShape(dy, y.shape(), "softmax_grad", "dy");
  requireShape(dx, y.shape(), "softmax_grad", "dx");
  Lines lines = linesAlong(y, axis, "softmax_grad");
  if (anyF64({y.dtype(), dy.dtype(), dx.dtype()}))
    return softmaxGradTyped<double>(y, dy, lines, dx);
  softmaxGradTyped<float>(y, dy, lines, dx);
}

} // namespace pgc::cpu
