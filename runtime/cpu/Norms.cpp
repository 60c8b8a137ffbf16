// LayerNorm and RMSNorm over the last dim (statistics in f32 or f64) with their
// backward kernels.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cmath>

namespace pgc::cpu {
namespace {

// Checks that x has rank >= 1 and a per-feature parameter has shape [D].
int64_t featureCount(const Tensor &x, const Tensor &param, const char *op,
                     const char *paramName) {
  if (x.rank() < 1)
    fail("{}: operand must have rank >= 1, got a scalar", op);
  int64_t width = x.dim(-1);
  requireShape(param, {width}, op, paramName);
  return width;
}

template <typename Acc> struct RowStats { Acc mean, rstd; };

template <typename Acc>
RowStats<Acc> layerNormStats(const Acc *row, int64_t width, Acc eps) {
  Acc sum = 0;
  for (int64_t c = 0; c < width; ++c)
    sum += row[c];
  Acc mean = sum / static_cast<Acc>(width);
  Acc squares = 0;
  for (int64_t c = 0; c < width; ++c)
    squares += (row[c] - mean) * (row[c] - mean);
  Acc variance = squares / static_cast<Acc>(width);
  return {mean, Acc(1) / std::sqrt(variance + eps)};
}

template <typename Acc> Acc rmsScale(const Acc *row, int64_t width, Acc eps) {
  Acc squares = 0;
  for (int64_t c = 0; c < width; ++c)
    squares += row[c] * row[c];
  return Acc(1) / std::sqrt(squares / static_cast<Acc>(width) + eps);
}

template <typename Acc>
void layerNormTyped(const Tensor &x, const Tensor &w, const Tensor &b, Acc eps,
                    Tensor &out) {
  FloatInput<Acc> fx(x, "layer_norm", "operand"), fw(w, "layer_norm", "weight"),
      fb(b, "layer_norm", "bias");
  FloatOutput<Acc> fo(out, "layer_norm", "result");
  int64_t width = w.numel(), rows = width ? x.numel() / width : 0;
  parallelFor(rows, grainFor(width * 4), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const Acc *row = fx.data() + r * width;
      RowStats<Acc> stats = layerNormStats(row, width, eps);
      for (int64_t c = 0; c < width; ++c)
        fo[r * width + c] = (row[c] - stats.mean) * stats.rstd * fw[c] + fb[c];
    }
  });
  fo.commit();
}

template <typename Acc>
void layerNormGradTyped(const Tensor &x, const Tensor &w, const Tensor &dy,
                        Acc eps, Tensor &dx, Tensor &dw, Tensor &db) {
  const char *op = "layer_norm_grad";
  FloatInput<Acc> fx(x, op, "x"), fw(w, op, "weight"), fdy(dy, op, "dy");
  FloatOutput<Acc> fdx(dx, op, "dx"), fdw(dw, op, "dw"), fdb(db, op, "db");
  int64_t width = w.numel(), rows = width ? x.numel() / width : 0;
  std::vector<RowStats<Acc>> stats(static_cast<size_t>(rows));
  parallelFor(rows, grainFor(width * 8), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const Acc *row = fx.data() + r * width;
      const Acc *gradRow = fdy.data() + r * width;
      stats[r] = layerNormStats(row, width, eps);
      Acc mean = stats[r].mean, rstd = stats[r].rstd;
      Acc sumG = 0, sumGXhat = 0;
      for (int64_t c = 0; c < width; ++c) {
        Acc g = gradRow[c] * fw[c];
        sumG += g;
        sumGXhat += g * (row[c] - mean) * rstd;
      }
      Acc meanG = sumG / static_cast<Acc>(width);
      Acc meanGXhat = sumGXhat / static_cast<Acc>(width);
      for (int64_t c = 0; c < width; ++c) {
        Acc xhat = (row[c] - mean) * rstd;
        fdx[r * width + c] =
            rstd * (gradRow[c] * fw[c] - meanG - xhat * meanGXhat);
      }
    }
  });
  // Parameter gradients sum over rows; each column is summed in row order
  // by one thread.
  parallelFor(width, grainFor(rows * 4), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      Acc sumW = 0, sumB = 0;
      for (int64_t r = 0; r < rows; ++r) {
        Acc g = fdy[r * width + c];
        sumW += g * (fx[r * width + c] - stats[r].mean) * stats[r].rstd;
        sumB += g;
      }
      fdw[c] = sumW;
      fdb[c] = sumB;
    }
  });
  fdx.commit();
  fdw.commit();
  fdb.commit();
}

template <typename Acc>
void rmsNormTyped(const Tensor &x, const Tensor &w, Acc eps, bool unitOffset,
                  Tensor &out) {
  FloatInput<Acc> fx(x, "rms_norm", "operand"), fw(w, "rms_norm", "weight");
  FloatOutput<Acc> fo(out, "rms_norm", "result");
  int64_t width = w.numel(), rows = width ? x.numel() / width : 0;
  parallelFor(rows, grainFor(width * 3), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const Acc *row = fx.data() + r * width;
      Acc scale = rmsScale(row, width, eps);
      for (int64_t c = 0; c < width; ++c) {
        Acc gain = unitOffset ? Acc(1) + fw[c] : fw[c];
        fo[r * width + c] = (row[c] * scale) * gain;
      }
    }
  });
  fo.commit();
}

template <typename Acc>
void rmsNormGradTyped(const Tensor &x, const Tensor &w, const Tensor &dy,
                      Acc eps, bool unitOffset, Tensor &dx, Tensor &dw) {
  const char *op = "rms_norm_grad";
  FloatInput<Acc> fx(x, op, "x"), fw(w, op, "weight"), fdy(dy, op, "dy");
  FloatOutput<Acc> fdx(dx, op, "dx"), fdw(dw, op, "dw");
  int64_t width = w.numel(), rows = width ? x.numel() / width : 0;
  std::vector<Acc> scales(static_cast<size_t>(rows));
  parallelFor(rows, grainFor(width * 6), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const Acc *row = fx.data() + r * width;
      const Acc *gradRow = fdy.data() + r * width;
      Acc scale = rmsScale(row, width, eps);
      scales[r] = scale;
      Acc sumGX = 0;
      for (int64_t c = 0; c < width; ++c) {
        Acc gain = unitOffset ? Acc(1) + fw[c] : fw[c];
        sumGX += gradRow[c] * gain * row[c];
      }
      // d/dx of x * s(x) with s = (mean(x^2) + eps)^-1/2 brings the term
      // -x * s^3 * mean(g * x).
      Acc correction = scale * scale * scale * sumGX / static_cast<Acc>(width);
      for (int64_t c = 0; c < width; ++c) {
        Acc gain = unitOffset ? Acc(1) + fw[c] : fw[c];
        fdx[r * width + c] = scale * gradRow[c] * gain - row[c] * correction;
      }
    }
  });
  parallelFor(width, grainFor(rows * 3), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      Acc sum = 0;
      for (int64_t r = 0; r < rows; ++r)
        sum += fdy[r * width + c] * fx[r * width + c] * scales[r];
      fdw[c] = sum;
    }
  });
  fdx.commit();
  fdw.commit();
}

} // namespace

void layerNorm(const Tensor &x, const Tensor &w, const Tensor &b, double eps,
               Tensor &out) {
  featureCount(x, w, "layer_norm", "weight");
  featureCount(x, b, "layer_norm", "bias");
  requireFloat(x, "layer_norm", "operand");
  requireDType(out, x.dtype(), "layer_norm", "result");
  requireShape(out, x.shape(), "layer_norm", "result");
  if (anyF64({x.dtype(), w.dtype(), b.dtype()}))
    return layerNormTyped<double>(x, w, b, eps, out);
  layerNormTyped<float>(x, w, b, static_cast<float>(eps), out);
}

void layerNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy,
                   double eps, Tensor &dx, Tensor &dw, Tensor &db) {
  const char *op = "layer_norm_grad";
  featureCount(x, w, op, "weight");
  requireShape(dy, x.shape(), op, "dy");
  requireShape(dx, x.shape(), op, "dx");
  requireShape(dw, w.shape(), op, "dw");
  requireShape(db, w.shape(), op, "db");
  if (anyF64({x.dtype(), w.dtype(), dy.dtype(), dx.dtype(), dw.dtype(),
              db.dtype()}))
    return layerNormGradTyped<double>(x, w, dy, eps, dx, dw, db);
  layerNormGradTyped<float>(x, w, dy, static_cast<float>(eps), dx, dw, db);
}

void rmsNorm(const Tensor &x, const Tensor &w, double eps, bool unitOffset,
             Tensor &out) {
  featureCount(x, w, "rms_norm", "weight");
  requireFloat(x, "rms_norm", "operand");
  requireDType(out, x.dtype(), "rms_norm", "result");
  requireShape(out, x.shape(), "rms_norm", "result");
  if (anyF64({x.dtype(), w.dtype()}))
    return rmsNormTyped<double>(x, w, eps, unitOffset, out);
  rmsNormTyped<float>(x, w, static_cast<float>(eps), unitOffset, out);
}

void rmsNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy, double eps,
                 bool unitOffset, Tensor &dx, Tensor &dw) {
  const char *op = "rms_norm_grad";
  featureCount(x, w, op, "weight");
  requireShape(dy, x.shape(), op, "dy");
  requireShape(dx, x.shape(), op, "dx");
  requireShape(dw, w.shape(), op, "dw");
  if (anyF64({x.dtype(), w.dtype(), dy.dtype(), dx.dtype(), dw.dtype()}))
    return rmsNormGradTyped<double>(x, w, dy, eps, unitOffset, dx, dw);
  rmsNormGradTyped<float>(x, w, dy, static_cast<float>(eps), unitOffset, dx,
                          dw);
}

} // namespace pgc::cpu
