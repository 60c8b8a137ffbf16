// Checks the GPU reduction, softmax and norm kernels against the CPU kernels
// and a long double reference under written-down error bounds; the bounds
// themselves are checked against the CPU kernels here, without a GPU.
//
// Error model (first order, Higham's gamma_k = k u / (1 - k u), u the unit
// roundoff of the compute type: 2^-24 for f32, 2^-53 for f64): a sum of n
// terms whose evaluation tree has depth h errs by at most gamma_h * sum|t|.
// The CPU sums in index order (h = n); the GPU's row kernels have
// h = ceil(n / threads) + log2(threads) (reductionThreads), and dw/db of the
// norm gradients h = chunkRows + chunks (normGradChunkRows). Each op's bound
// below propagates that through its formula; a bound for GPU vs CPU is the
// sum of both bounds plus one step of the output dtype (each side rounds its
// own value once). The reference is computed in long double, whose own error
// (about n 2^-64 of the magnitudes) is covered by a factor 1.25 on every
// bound. Maxima, cumsum and the one-thread-per-output reductions must equal
// the CPU bit for bit.
#include "ErrorBounds.h"
#include "GpuFixture.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/kernels/Reduce.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>

namespace pgc::cuda {
namespace {

using LD = long double;

using bounds::gammaOf;
double unitRoundoff(bool f64) { return f64 ? 0x1p-53 : 0x1p-24; }

// Depth of a GPU block sum over `n` elements.
double blockDepth(int64_t n) {
  int threads = reductionThreads(n);
  return double((n + threads - 1) / threads) + std::log2(double(threads));
}
double chunkDepth(int64_t rows) {
  int64_t chunk = normGradChunkRows(rows);
  return double(chunk + (rows + chunk - 1) / chunk);
}

Tensor randomTensor(DType dtype, Shape shape, uint32_t seed, double scale = 1,
                    double offset = 0) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(offset, scale);
  for (int64_t i = 0; i < t.numel(); ++i)
    cpu::writeFloatFromDouble(t, i, normal(rng));
  return t;
}

std::vector<LD> values(const Tensor &t) {
  std::vector<LD> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = cpu::readFloatAsDouble(t, i);
  return v;
}

/// What an output should be, and how far an implementation of a given
/// summation depth may be from it (before rounding to the output dtype).
struct Expected {
  std::vector<LD> value;
  std::vector<double> bound;
};

struct Report {
  double worstRatio = 0, worstError = 0;
  int64_t failures = 0, first = -1;
};

// |got - want| <= 1.25 bound + steps * storeRounding; NaN matches NaN and
// infinities match exactly.
Report compare(const Tensor &got, const std::vector<LD> &want,
               const std::vector<double> &bound, double steps, bool f64) {
  Report report;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = cpu::readFloatAsDouble(got, i), w = double(want[i]);
    bool ok;
    double error = 0, tolerance = 0;
    if (std::isnan(w) || std::isnan(g) || std::isinf(w) || std::isinf(g)) {
      ok = std::isnan(w) ? std::isnan(g) : g == w;
    } else {
      error = double(std::fabs(LD(g) - want[i]));
      tolerance = 1.25 * bound[i] +
                  steps * bounds::storeRounding(got.dtype(), f64,
                                                std::fabs(w) + 1.25 * bound[i]);
      ok = error <= tolerance;
      double ratio = tolerance > 0 ? error / tolerance : (error > 0 ? 1e9 : 0);
      if (ratio > report.worstRatio)
        report.worstRatio = ratio;
      report.worstError = std::max(report.worstError, error);
    }
    if (!ok && report.failures++ == 0)
      report.first = i;
  }
  return report;
}

void expectWithin(const std::string &what, const Tensor &got,
                  const Expected &expected, bool f64) {
  Report r = compare(got, expected.value, expected.bound, 1, f64);
  std::cout << "  " << what << ": worst error " << r.worstError << ", "
            << r.worstRatio << " of the bound\n";
  EXPECT_EQ(r.failures, 0)
      << what << ": first at " << r.first << " got "
      << cpu::readFloatAsDouble(got, r.first) << " expected "
      << double(expected.value[std::max<int64_t>(r.first, 0)]);
}

// GPU against CPU: both bounds and a step of the output dtype each.
void expectAgree(const std::string &what, const Tensor &gpu, const Tensor &cpu,
                 const Expected &gpuBound, const Expected &cpuBound, bool f64) {
  std::vector<double> bound(gpu.numel());
  for (int64_t i = 0; i < gpu.numel(); ++i)
    bound[i] = gpuBound.bound[i] + cpuBound.bound[i];
  Report r = compare(gpu, values(cpu), bound, 2, f64);
  std::cout << "  " << what << " vs CPU: worst difference " << r.worstError
            << ", " << r.worstRatio << " of the bound\n";
  EXPECT_EQ(r.failures, 0) << what << " vs CPU: first at " << r.first;
}

void expectBitExact(const std::string &what, const Tensor &gpu,
                    const Tensor &cpu) {
  ASSERT_EQ(gpu.byteSize(), cpu.byteSize()) << what;
  size_t size = dtypeSize(gpu.dtype());
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < gpu.numel(); ++i) {
    const char *a = static_cast<const char *>(gpu.raw()) + i * size;
    const char *b = static_cast<const char *>(cpu.raw()) + i * size;
    bool bothNaN = isFloat(gpu.dtype()) &&
                   std::isnan(cpu::readFloatAsDouble(gpu, i)) &&
                   std::isnan(cpu::readFloatAsDouble(cpu, i));
    if (std::memcmp(a, b, size) != 0 && !bothNaN && mismatches++ == 0)
      first = i;
  }
  std::cout << "  " << what << ": " << mismatches << " bits differ\n";
  EXPECT_EQ(mismatches, 0) << what << ": first at " << first;
}

// Reference reductions ------------------------------------------------------

enum class Kind { Sum, Max, Mean };

// sum: gamma_h sum|x|; mean: gamma_{h+1} sum|x| / n (|mean| <= sum|x| / n
// covers the division's rounding); max: exact.
Expected reduceReference(Kind kind, const Tensor &x, const ReductionView &v,
                         double depth, double u) {
  std::vector<LD> xs = values(x);
  Expected e;
  for (int64_t o = 0; o < v.outer * v.inner; ++o) {
    int64_t base = (o / v.inner) * v.extent * v.inner + o % v.inner;
    LD sum = 0, absSum = 0, best = -INFINITY;
    for (int64_t i = 0; i < v.extent; ++i) {
      LD t = xs[base + i * v.inner];
      sum += t;
      absSum += std::fabs(t);
      best = std::isnan(best) ? best : (std::isnan(t) || t > best ? t : best);
    }
    if (kind == Kind::Max) {
      e.value.push_back(best);
      e.bound.push_back(0);
    } else if (kind == Kind::Sum) {
      e.value.push_back(sum);
      e.bound.push_back(gammaOf(depth, u) * double(absSum));
    } else {
      e.value.push_back(sum / v.extent);
      e.bound.push_back(gammaOf(depth + 1, u) * double(absSum) / v.extent);
    }
  }
  return e;
}

// Softmax: exp(fl(x - m)) errs by |x - m| u (the subtraction) plus the exp's
// own error (4u: CUDA's expf is within 2 ulp, glibc's within 1); the total
// then by the weighted mean of those plus gamma_h (positive terms), the
// quotient by both plus u.
Expected softmaxReference(const std::vector<LD> &x, int64_t outer,
                          int64_t extent, int64_t inner, double depth,
                          double u) {
  Expected e;
  e.value.resize(x.size());
  e.bound.resize(x.size());
  for (int64_t line = 0; line < outer * inner; ++line) {
    int64_t s = (line / inner) * extent * inner + line % inner;
    LD m = -INFINITY;
    for (int64_t i = 0; i < extent; ++i)
      m = std::fmax(m, x[s + i * inner]);
    LD total = 0, weighted = 0;
    for (int64_t i = 0; i < extent; ++i) {
      LD d = x[s + i * inner] - m, ex = std::exp(d);
      total += ex;
      weighted += ex * (std::fabs(d) * u + 4 * u);
    }
    double totalError = double(weighted / total) + gammaOf(depth, u);
    for (int64_t i = 0; i < extent; ++i) {
      LD d = x[s + i * inner] - m, p = std::exp(d) / total;
      e.value[s + i * inner] = p;
      e.bound[s + i * inner] =
          double(p) * (double(std::fabs(d)) * u + 4 * u + totalError + u);
    }
  }
  return e;
}

// dx = y (dy - dot): the dot errs by gamma_{h+1} sum|y dy|, the subtraction
// and product by u each.
Expected softmaxGradReference(const std::vector<LD> &y,
                              const std::vector<LD> &dy, int64_t outer,
                              int64_t extent, int64_t inner, double depth,
                              double u) {
  Expected e;
  e.value.resize(y.size());
  e.bound.resize(y.size());
  for (int64_t line = 0; line < outer * inner; ++line) {
    int64_t s = (line / inner) * extent * inner + line % inner;
    LD dot = 0, absDot = 0;
    for (int64_t i = 0; i < extent; ++i) {
      dot += y[s + i * inner] * dy[s + i * inner];
      absDot += std::fabs(y[s + i * inner] * dy[s + i * inner]);
    }
    double dotError = gammaOf(depth + 1, u) * double(absDot);
    for (int64_t i = 0; i < extent; ++i) {
      int64_t at = s + i * inner;
      e.value[at] = y[at] * (dy[at] - dot);
      e.bound[at] = double(std::fabs(y[at])) *
                    (dotError + gammaOf(2, u) *
                                    double(std::fabs(dy[at]) + std::fabs(dot)));
    }
  }
  return e;
}

// Norms: depth over a row (rowDepth) and over rows (columnDepth).
struct NormOutputs {
  Expected out, dx, dw, db;
};

// RMSNorm: sum x^2 errs by gamma_{h+1} (positive terms), so the scale
// s = 1 / sqrt(ms + eps) by rho = gamma_{h+3} / 2 + 2u; out = (x s) gain by
// rho + 3u relative. Gradient: A = s dy gain (rho + 3u), G = sum dy gain x
// (gamma_{h+3} sum|.|), B = x s^3 G / n (3 rho + 5u on s^3 / n, plus dG);
// dw = sum_r dy x s_r, each term rho + 2u, the sum gamma_H.
NormOutputs rmsReference(const Tensor &xt, const Tensor &wt, const Tensor *dyt,
                         double eps, bool unitOffset, double rowDepth,
                         double columnDepth, double u) {
  std::vector<LD> x = values(xt), w = values(wt), dy;
  if (dyt)
    dy = values(*dyt);
  int64_t width = wt.numel(), rows = width ? xt.numel() / width : 0;
  NormOutputs r;
  r.out.value.resize(x.size());
  r.out.bound.resize(x.size());
  r.dx = r.out;
  std::vector<LD> dwSum(width, 0), dwAbs(width, 0);
  double rho = gammaOf(rowDepth + 3, u) / 2 + 2 * u;
  for (int64_t row = 0; row < rows; ++row) {
    const LD *xr = x.data() + row * width;
    LD squares = 0;
    for (int64_t c = 0; c < width; ++c)
      squares += xr[c] * xr[c];
    LD s = 1 / std::sqrt(squares / width + LD(eps));
    LD G = 0, absG = 0;
    for (int64_t c = 0; c < width; ++c) {
      LD gain = unitOffset ? 1 + w[c] : w[c];
      LD o = xr[c] * s * gain;
      r.out.value[row * width + c] = o;
      r.out.bound[row * width + c] = (rho + 3 * u) * double(std::fabs(o));
      if (dyt) {
        LD t = dy[row * width + c] * gain * xr[c];
        G += t;
        absG += std::fabs(t);
      }
    }
    if (!dyt)
      continue;
    double dG = gammaOf(rowDepth + 3, u) * double(absG);
    for (int64_t c = 0; c < width; ++c) {
      int64_t at = row * width + c;
      LD gain = unitOffset ? 1 + w[c] : w[c];
      LD a = s * dy[at] * gain, b = xr[c] * s * s * s * G / width;
      r.dx.value[at] = a - b;
      double sCubed = double(std::fabs(xr[c]) * s * s * s / width);
      r.dx.bound[at] =
          (rho + 3 * u) * double(std::fabs(a)) +
          sCubed * (dG + (3 * rho + 5 * u) * double(std::fabs(G))) +
          u * double(std::fabs(a) + std::fabs(b));
      LD t = dy[at] * xr[c] * s;
      dwSum[c] += t;
      dwAbs[c] += std::fabs(t);
    }
  }
  for (int64_t c = 0; c < width && dyt; ++c) {
    r.dw.value.push_back(dwSum[c]);
    r.dw.bound.push_back((rho + 2 * u + gammaOf(columnDepth, u)) *
                         double(dwAbs[c]));
  }
  return r;
}

// LayerNorm: the mean errs by delta = gamma_{h+1} sum|x| / n; the variance,
// a sum of squares around the computed mean (exactly var + delta^2 around
// the true one, each term within 3u), by delta^2 + gamma_{h+4} (var +
// delta^2); rstd by rho = dvar / (2 (var + eps)) + 3u; xhat = (x - m) rstd
// by rstd (delta (1 + u) + |x - mean| (rho + 3u)) =: Xe, out by |w| Xe plus
// u (|xhat w| + |out|). Gradient: meanG by gamma_{h+2} sum|g| / n,
// meanGXhat by (sum|g| Xe + gamma_{h+4} sum|g xhat|) / n, the bracket by
// those plus 3u of its terms, dx by rstd times that plus (rho + u) |dx|;
// dw by sum|dy| Xe + (u + gamma_H) sum|dy xhat|, db by gamma_H sum|dy|.
NormOutputs layerReference(const Tensor &xt, const Tensor &wt, const Tensor *bt,
                           const Tensor *dyt, double eps, double rowDepth,
                           double columnDepth, double u) {
  std::vector<LD> x = values(xt), w = values(wt), b, dy;
  if (bt)
    b = values(*bt);
  if (dyt)
    dy = values(*dyt);
  int64_t width = wt.numel(), rows = width ? xt.numel() / width : 0;
  NormOutputs r;
  r.out.value.resize(x.size());
  r.out.bound.resize(x.size());
  r.dx = r.out;
  std::vector<LD> dwSum(width, 0), dwAbs(width, 0), dwErr(width, 0),
      dbSum(width, 0), dbAbs(width, 0);
  for (int64_t row = 0; row < rows; ++row) {
    const LD *xr = x.data() + row * width;
    LD sum = 0, absSum = 0;
    for (int64_t c = 0; c < width; ++c) {
      sum += xr[c];
      absSum += std::fabs(xr[c]);
    }
    LD mean = sum / width, squares = 0;
    for (int64_t c = 0; c < width; ++c)
      squares += (xr[c] - mean) * (xr[c] - mean);
    LD var = squares / width, rstd = 1 / std::sqrt(var + LD(eps));
    double delta = gammaOf(rowDepth + 1, u) * double(absSum) / width;
    double dvar = delta * delta +
                  gammaOf(rowDepth + 4, u) * (double(var) + delta * delta);
    double rho = dvar / (2 * double(var + LD(eps))) + 3 * u;
    std::vector<double> xe(width);
    std::vector<LD> xhat(width);
    LD sumG = 0, absG = 0, sumGX = 0, absGX = 0, gXe = 0;
    for (int64_t c = 0; c < width; ++c) {
      int64_t at = row * width + c;
      xhat[c] = (xr[c] - mean) * rstd;
      xe[c] = double(rstd) * (delta * (1 + u) +
                              double(std::fabs(xr[c] - mean)) * (rho + 3 * u));
      if (bt) {
        LD o = xhat[c] * w[c] + b[c];
        r.out.value[at] = o;
        r.out.bound[at] = double(std::fabs(w[c])) * xe[c] +
                          u * double(std::fabs(xhat[c] * w[c]) + std::fabs(o));
      }
      if (dyt) {
        LD g = dy[at] * w[c];
        sumG += g;
        absG += std::fabs(g);
        sumGX += g * xhat[c];
        absGX += std::fabs(g * xhat[c]);
        gXe += std::fabs(g) * xe[c];
      }
    }
    if (!dyt)
      continue;
    LD meanG = sumG / width, meanGX = sumGX / width;
    double dMeanG = gammaOf(rowDepth + 2, u) * double(absG) / width;
    double dMeanGX =
        double(gXe + gammaOf(rowDepth + 4, u) * absGX) / double(width);
    for (int64_t c = 0; c < width; ++c) {
      int64_t at = row * width + c;
      LD g = dy[at] * w[c], inner = g - meanG - xhat[c] * meanGX;
      r.dx.value[at] = rstd * inner;
      double dInner = u * double(std::fabs(g)) + dMeanG +
                      xe[c] * double(std::fabs(meanGX)) +
                      double(std::fabs(xhat[c])) * dMeanGX +
                      3 * u *
                          double(std::fabs(g) + std::fabs(meanG) +
                                 std::fabs(xhat[c] * meanGX));
      r.dx.bound[at] =
          double(rstd) * dInner + (rho + u) * double(std::fabs(rstd * inner));
      dwSum[c] += dy[at] * xhat[c];
      dwAbs[c] += std::fabs(dy[at] * xhat[c]);
      dwErr[c] += std::fabs(dy[at]) * xe[c];
      dbSum[c] += dy[at];
      dbAbs[c] += std::fabs(dy[at]);
    }
  }
  for (int64_t c = 0; c < width && dyt; ++c) {
    r.dw.value.push_back(dwSum[c]);
    r.dw.bound.push_back(double(dwErr[c]) +
                         (u + gammaOf(columnDepth, u)) * double(dwAbs[c]));
    r.db.value.push_back(dbSum[c]);
    r.db.bound.push_back(gammaOf(columnDepth, u) * double(dbAbs[c]));
  }
  return r;
}

// The bounds hold for the CPU kernels (no GPU needed)
// --------------------------

TEST(ReduceErrorBounds, StoreRoundingIsHalfAStep) {
  EXPECT_EQ(bounds::storeRounding(DType::BF16, false, 1.0), 0x1p-8);
  EXPECT_EQ(bounds::storeRounding(DType::BF16, false, 3.0), 0x1p-7);
  EXPECT_EQ(bounds::storeRounding(DType::F16, false, 1e-7),
            0x1p-25); // subnormal
  EXPECT_EQ(bounds::storeRounding(DType::F32, false, 1.0), 0);
  EXPECT_EQ(bounds::storeRounding(DType::F32, true, 1.0), 0x1p-24);
  EXPECT_EQ(bounds::storeRounding(DType::F64, true, 1.0), 0);
  EXPECT_NEAR(gammaOf(10, 0x1p-24), 10 * 0x1p-24, 1e-12);
}

TEST(ReduceErrorBounds, HoldForTheCpuKernels) {
  const double u = unitRoundoff(false);
  {
    Tensor x = randomTensor(DType::F32, {64, 16384}, 1), out(DType::F32, {64});
    cpu::reduceSum(x, {1}, false, out);
    ReductionView v = reductionView(x.shape(), {1}, false, out.shape(), "t");
    expectWithin("cpu reduce_sum", out,
                 reduceReference(Kind::Sum, x, v, 16384, u), false);
  }
  {
    Tensor x = randomTensor(DType::F32, {64, 2048}, 2, 3),
           y(DType::F32, x.shape());
    cpu::softmax(x, -1, y);
    expectWithin("cpu softmax", y,
                 softmaxReference(values(x), 64, 2048, 1, 2048, u), false);
    Tensor dy = randomTensor(DType::F32, x.shape(), 3),
           dx(DType::F32, x.shape());
    cpu::softmaxGrad(y, dy, -1, dx);
    expectWithin(
        "cpu softmax_grad", dx,
        softmaxGradReference(values(y), values(dy), 64, 2048, 1, 2048, u),
        false);
  }
  {
    Tensor x = randomTensor(DType::F32, {300, 1152}, 4, 2, 1);
    Tensor w = randomTensor(DType::F32, {1152}, 5, 0.3);
    Tensor b = randomTensor(DType::F32, {1152}, 6);
    Tensor dy = randomTensor(DType::F32, x.shape(), 7);
    Tensor out(DType::F32, x.shape()), dx(DType::F32, x.shape()),
        dw(DType::F32, {1152}), db(DType::F32, {1152});
    cpu::rmsNorm(x, w, 1e-6, true, out);
    cpu::rmsNormGrad(x, w, dy, 1e-6, true, dx, dw);
    NormOutputs rms = rmsReference(x, w, &dy, float(1e-6), true, 1152, 300, u);
    expectWithin("cpu rms_norm", out, rms.out, false);
    expectWithin("cpu rms_norm_grad dx", dx, rms.dx, false);
    expectWithin("cpu rms_norm_grad dw", dw, rms.dw, false);
    cpu::layerNorm(x, w, b, 1e-6, out);
    cpu::layerNormGrad(x, w, dy, 1e-6, dx, dw, db);
    NormOutputs ln = layerReference(x, w, &b, &dy, float(1e-6), 1152, 300, u);
    expectWithin("cpu layer_norm", out, ln.out, false);
    expectWithin("cpu layer_norm_grad dx", dx, ln.dx, false);
    expectWithin("cpu layer_norm_grad dw", dw, ln.dw, false);
    expectWithin("cpu layer_norm_grad db", db, ln.db, false);
  }
}

TEST(ReduceView, ViewsConsecutiveAxesAndRejectsOthers) {
  ReductionView v = reductionView({8, 257, 1152}, {1}, false, {8, 1152}, "r");
  EXPECT_EQ(v.outer, 8);
  EXPECT_EQ(v.extent, 257);
  EXPECT_EQ(v.inner, 1152);
  v = reductionView({16, 32, 64}, {-1, 1}, true, {16, 1, 1}, "r");
  EXPECT_EQ(v.outer, 16);
  EXPECT_EQ(v.extent, 2048);
  EXPECT_EQ(v.inner, 1);
  // Size-1 dims between reduced ones do not break the run.
  v = reductionView({1, 7, 1, 5}, {1, 3}, false, {1, 1}, "r");
  EXPECT_EQ(v.extent, 35);
  try {
    reductionView({4, 5, 6}, {0, 2}, false, {5}, "reduce_sum");
    FAIL() << "non-consecutive axes were accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("reduce_sum"), std::string::npos);
  }
  EXPECT_THROW(reductionView({4, 5}, {1, 1}, false, {4}, "r"), Error);
  EXPECT_THROW(reductionView({4, 5}, {1}, false, {5}, "r"), Error);
}

// Scattered axes are transposed to the end first (the step launcher does so
// on the device): the CPU kernels, run both ways, must agree bit for bit, as
// both sum row-major over the reduced dimensions.
TEST(ReduceView, ReorderingScatteredAxesKeepsTheCpusResult) {
  EXPECT_TRUE(reductionReorder({8, 257, 1152}, {1}, "r").empty());
  EXPECT_TRUE(reductionReorder({1, 7, 1, 5}, {1, 3}, "r").empty());
  EXPECT_TRUE(reductionReorder({4, 5, 6}, {}, "r").empty());
  EXPECT_EQ(reductionReorder({4, 5, 6}, {0, 2}, "r"),
            (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(reductionReorder({3, 4, 5, 6, 7}, {-1, 1, 3}, "r"),
            (std::vector<int64_t>{0, 2, 1, 3, 4}));
  EXPECT_THROW(reductionReorder({4, 5}, {2}, "r"), Error);
  EXPECT_THROW(reductionReorder({4, 5}, {0, -2}, "r"), Error);

  struct Case {
    Shape shape;
    std::vector<int64_t> axes;
    DType dtype;
  };
  const std::vector<Case> cases = {
      {{4, 5, 6}, {0, 2}, DType::F32},
      {{3, 4, 5, 6, 7}, {-1, 1, 3}, DType::BF16},
      {{16, 1152, 40}, {0, 2}, DType::F32},
      {{6, 1, 9, 2}, {3, 0}, DType::F64},
      {{5, 3, 4}, {0, 2}, DType::I64},
  };
  uint32_t seed = 300;
  for (const Case &c : cases) {
    SCOPED_TRACE(formatShape(c.shape));
    Tensor x = c.dtype == DType::I64 ? Tensor(DType::I64, c.shape)
                                     : randomTensor(c.dtype, c.shape, ++seed);
    for (int64_t i = 0; i < x.numel(); ++i)
      if (c.dtype == DType::I64)
        x.data<int64_t>()[i] = (i * 7919) % 1001 - 500;
    std::vector<int64_t> order = reductionReorder(c.shape, c.axes, "r");
    ASSERT_FALSE(order.empty());
    Shape moved, kept;
    for (size_t i = 0; i < order.size(); ++i) {
      moved.push_back(c.shape[order[i]]);
      if (i < order.size() - c.axes.size())
        kept.push_back(c.shape[order[i]]);
    }
    Tensor staged(c.dtype, moved);
    cpu::transpose(x, order, staged);
    std::vector<int64_t> trailing;
    for (size_t d = kept.size(); d < order.size(); ++d)
      trailing.push_back(static_cast<int64_t>(d));
    using Reduce =
        void (*)(const Tensor &, const std::vector<int64_t> &, bool, Tensor &);
    std::vector<Reduce> kinds = {cpu::reduceSum, cpu::reduceMax};
    if (isFloat(c.dtype))
      kinds.push_back(cpu::reduceMean);
    for (Reduce reduce : kinds) {
      Tensor direct(c.dtype, kept), reordered(c.dtype, kept);
      reduce(x, c.axes, false, direct);
      reduce(staged, trailing, false, reordered);
      EXPECT_EQ(0,
                std::memcmp(direct.raw(), reordered.raw(), direct.byteSize()));
    }
  }
}

// On the GPU ------------------------------------------------------------------

using GpuReduce = GpuTest;

struct ReduceCase {
  Shape shape;
  std::vector<int64_t> axes;
  bool keepDims;
  DType in, out;
};

TEST_F(GpuReduce, ReductionsMatchTheCpu) {
  Module module = load(reduceSource());
  const std::vector<ReduceCase> cases = {
      {{2048, 1152}, {1}, false, DType::F32, DType::F32},
      {{257, 2048}, {-1}, true, DType::BF16, DType::F32},
      {{16, 16384}, {1}, false, DType::BF16, DType::BF16},
      {{1000003}, {0}, false, DType::F32, DType::F32},
      {{3}, {0}, false, DType::F32, DType::F32},
      {{1}, {0}, true, DType::BF16, DType::BF16},
      {{8, 257, 1152}, {1}, false, DType::F32, DType::F32},
      {{4096, 64}, {0}, false, DType::BF16, DType::F32},
      {{64, 1000, 3}, {1}, false, DType::F32, DType::F32},
      {{300, 2048}, {1}, false, DType::F64, DType::F64},
      {{300, 2048}, {1}, false, DType::F32, DType::F64},
      {{16, 32, 64}, {1, 2}, false, DType::F16, DType::F32},
      {{1, 7, 1, 5}, {1, 3}, false, DType::F32, DType::BF16},
      {{5, 0, 3}, {1}, false, DType::F32, DType::F32},
  };
  uint32_t seed = 10;
  for (const ReduceCase &c : cases) {
    Tensor x = randomTensor(c.in, c.shape, ++seed, 1.0, 0.5);
    bool f64 = c.in == DType::F64 || c.out == DType::F64;
    double u = unitRoundoff(f64);
    OnDevice dx = put(x);
    for (Kind kind : {Kind::Sum, Kind::Max, Kind::Mean}) {
      const char *name = kind == Kind::Sum   ? "sum"
                         : kind == Kind::Max ? "max"
                                             : "mean";
      Shape outShape;
      for (int64_t d = 0; d < int64_t(c.shape.size()); ++d) {
        bool reduced = false;
        for (int64_t a : c.axes)
          reduced |= (a < 0 ? a + int64_t(c.shape.size()) : a) == d;
        if (!reduced || c.keepDims)
          outShape.push_back(reduced ? 1 : c.shape[d]);
      }
      Tensor cpuOut(c.out, outShape);
      auto run = kind == Kind::Sum   ? cpu::reduceSum
                 : kind == Kind::Max ? cpu::reduceMax
                                     : cpu::reduceMean;
      run(x, c.axes, c.keepDims, cpuOut);
      OnDevice out = space(c.out, outShape);
      launchReduce(module, stream(), static_cast<ReduceKind>(kind), dx.tensor,
                   c.axes, c.keepDims, out.tensor);
      Tensor gpu = get(out);
      ReductionView v =
          reductionView(c.shape, c.axes, c.keepDims, outShape, name);
      std::string what =
          std::string("reduce_") + name + " " + formatShape(c.shape) + " " +
          std::string(dtypeName(c.in)) + "->" + std::string(dtypeName(c.out));
      if (kind == Kind::Max || reductionIsSequential(v.extent, v.inner)) {
        expectBitExact(what, gpu, cpuOut);
        continue;
      }
      double depth = blockDepth(v.extent);
      expectWithin(what, gpu, reduceReference(kind, x, v, depth, u), f64);
      expectAgree(what, gpu, cpuOut, reduceReference(kind, x, v, depth, u),
                  reduceReference(kind, x, v, double(v.extent), u), f64);
    }
  }
}

TEST_F(GpuReduce, MaxKeepsTheCpusZeroSignAndNaN) {
  Module module = load(reduceSource());
  // -0 before +0 in some rows, NaN in others: the CPU keeps the first of
  // equal maxima and the first NaN; the GPU must return the same bits.
  Tensor x(DType::F32, {64, 4096});
  std::mt19937 rng(3);
  for (int64_t r = 0; r < 64; ++r)
    for (int64_t c = 0; c < 4096; ++c)
      x.data<float>()[r * 4096 + c] =
          (rng() % 2 ? -0.0f : 0.0f) - float(rng() % 3 == 0);
  x.data<float>()[5 * 4096 + 4000] = NAN;
  x.data<float>()[9 * 4096 + 7] = -INFINITY;
  Tensor cpuOut(DType::F32, {64});
  cpu::reduceMax(x, {1}, false, cpuOut);
  OnDevice dx = put(x), out = space(DType::F32, {64});
  launchReduce(module, stream(), ReduceKind::Max, dx.tensor, {1}, false,
               out.tensor);
  expectBitExact("reduce_max zeros", get(out), cpuOut);
}

TEST_F(GpuReduce, IntegerReductionsAndCumsumAreExact) {
  Module module = load(reduceSource());
  Tensor x(DType::I32, {257, 3000});
  std::mt19937 rng(4);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<int32_t>()[i] = int32_t(rng()); // sums overflow and wrap
  for (const std::vector<int64_t> &axes :
       {std::vector<int64_t>{1}, std::vector<int64_t>{0}}) {
    Shape outShape = {axes[0] == 1 ? 257 : 3000};
    for (ReduceKind kind : {ReduceKind::Sum, ReduceKind::Max}) {
      Tensor cpuOut(DType::I32, outShape);
      (kind == ReduceKind::Sum ? cpu::reduceSum
                               : cpu::reduceMax)(x, axes, false, cpuOut);
      OnDevice dx = put(x), out = space(DType::I32, outShape);
      launchReduce(module, stream(), kind, dx.tensor, axes, false, out.tensor);
      expectBitExact("i32 reduce axis " + std::to_string(axes[0]), get(out),
                     cpuOut);
    }
  }
  Tensor x64 = x.to(DType::I64), cpuOut(DType::I64, x.shape());
  cpu::cumsum(x64, 1, cpuOut);
  OnDevice dx = put(x64), out = space(DType::I64, x.shape());
  launchCumsum(module, stream(), dx.tensor, 1, out.tensor);
  expectBitExact("i64 cumsum", get(out), cpuOut);
  OnDevice empty = put(Tensor(DType::I32, {4, 0}));
  OnDevice small = space(DType::I32, {4});
  EXPECT_THROW(launchReduce(module, stream(), ReduceKind::Max, empty.tensor,
                            {1}, false, small.tensor),
               Error);
  EXPECT_THROW(launchReduce(module, stream(), ReduceKind::Mean, dx.tensor, {1},
                            false, space(DType::I64, {257}).tensor),
               Error);
}

TEST_F(GpuReduce, CumsumIsTheCpusBits) {
  Module module = load(reduceSource());
  struct Case {
    Shape shape;
    int64_t axis;
    DType in, out;
  };
  for (const Case &c : {Case{{64, 2048}, -1, DType::F32, DType::F32},
                        Case{{257, 1152}, 0, DType::BF16, DType::BF16},
                        Case{{1000003}, 0, DType::F64, DType::F64},
                        Case{{3, 1000}, 1, DType::BF16, DType::F32},
                        Case{{1}, 0, DType::F32, DType::F64}}) {
    Tensor x = randomTensor(c.in, c.shape, 21), cpuOut(c.out, c.shape);
    cpu::cumsum(x, c.axis, cpuOut);
    OnDevice dx = put(x), out = space(c.out, c.shape);
    launchCumsum(module, stream(), dx.tensor, c.axis, out.tensor);
    expectBitExact("cumsum " + formatShape(c.shape), get(out), cpuOut);
  }
}

TEST_F(GpuReduce, SoftmaxAndItsGradientMatchTheCpu) {
  Module module = load(softmaxSource());
  struct Case {
    Shape shape;
    int64_t axis;
    DType dtype;
  };
  for (const Case &c :
       {Case{{512, 2048}, -1, DType::F32}, Case{{1024, 257}, -1, DType::BF16},
        Case{{4, 16384}, 1, DType::F32}, Case{{64, 1152}, 1, DType::F64},
        Case{{1000, 3}, 0, DType::F32}, Case{{1000003}, 0, DType::F32},
        Case{{1}, 0, DType::BF16}}) {
    bool f64 = c.dtype == DType::F64;
    double u = unitRoundoff(f64);
    Tensor x = randomTensor(c.dtype, c.shape, 31, 3);
    int64_t rank = int64_t(c.shape.size()),
            a = c.axis < 0 ? c.axis + rank : c.axis;
    int64_t extent = c.shape[a], inner = 1;
    for (int64_t d = a + 1; d < rank; ++d)
      inner *= c.shape[d];
    int64_t outer = x.numel() / (extent * inner);
    double depth = blockDepth(extent);
    std::string what = "softmax " + formatShape(c.shape) + " " +
                       std::string(dtypeName(c.dtype));
    Tensor cpuY(c.dtype, c.shape);
    cpu::softmax(x, c.axis, cpuY);
    OnDevice dx = put(x), y = space(c.dtype, c.shape);
    launchSoftmax(module, stream(), dx.tensor, c.axis, y.tensor);
    Tensor gpuY = get(y);
    std::vector<LD> xs = values(x);
    expectWithin(what, gpuY,
                 softmaxReference(xs, outer, extent, inner, depth, u), f64);
    expectAgree(what, gpuY, cpuY,
                softmaxReference(xs, outer, extent, inner, depth, u),
                softmaxReference(xs, outer, extent, inner, extent, u), f64);

    // The gradient from the CPU's y, so both sides see the same inputs.
    Tensor dy = randomTensor(c.dtype, c.shape, 32), cpuDx(c.dtype, c.shape);
    cpu::softmaxGrad(cpuY, dy, c.axis, cpuDx);
    OnDevice yIn = put(cpuY), dyIn = put(dy), g = space(c.dtype, c.shape);
    launchSoftmaxGrad(module, stream(), yIn.tensor, dyIn.tensor, c.axis,
                      g.tensor);
    Tensor gpuDx = get(g);
    std::vector<LD> ys = values(cpuY), dys = values(dy);
    expectWithin(what + " grad", gpuDx,
                 softmaxGradReference(ys, dys, outer, extent, inner, depth, u),
                 f64);
    expectAgree(what + " grad", gpuDx, cpuDx,
                softmaxGradReference(ys, dys, outer, extent, inner, depth, u),
                softmaxGradReference(ys, dys, outer, extent, inner, extent, u),
                f64);
  }
}

struct NormCase {
  int64_t rows, width;
  DType x, w;
};

const std::vector<NormCase> &normCases() {
  static const std::vector<NormCase> cases = {
      {4096, 2048, DType::BF16, DType::BF16}, // Gemma hidden
      {1024, 1152, DType::F32, DType::F32},   // SigLIP
      {257, 1152, DType::BF16, DType::F32},
      {8, 16384, DType::F32, DType::F32},
      {64, 2048, DType::F64, DType::F64},
      {1, 1000003, DType::F32, DType::F32},
      {1000003, 1, DType::F32, DType::F32},
      {3, 1, DType::BF16, DType::BF16},
  };
  return cases;
}

TEST_F(GpuReduce, RmsNormAndItsGradientMatchTheCpu) {
  Module module = load(normsSource());
  for (const NormCase &c : normCases()) {
    for (bool unitOffset : {true, false}) {
      bool f64 = c.x == DType::F64 || c.w == DType::F64;
      double u = unitRoundoff(f64), eps = 1e-6;
      double epsAcc = f64 ? eps : double(float(eps));
      Shape shape = {c.rows, c.width};
      Tensor x = randomTensor(c.x, shape, 41, 2);
      Tensor w = randomTensor(c.w, {c.width}, 42, 0.3, unitOffset ? 0 : 1);
      Tensor dy = randomTensor(c.x, shape, 43);
      std::string what =
          "rms_norm " + formatShape(shape) + " " + std::string(dtypeName(c.x)) +
          "/" + std::string(dtypeName(c.w)) + (unitOffset ? " 1+w" : " w");
      NormOutputs gpuRef =
          rmsReference(x, w, &dy, epsAcc, unitOffset, blockDepth(c.width),
                       chunkDepth(c.rows), u);
      NormOutputs cpuRef = rmsReference(x, w, &dy, epsAcc, unitOffset,
                                        double(c.width), double(c.rows), u);
      Tensor cpuOut(c.x, shape), cpuDx(c.x, shape), cpuDw(c.w, {c.width});
      cpu::rmsNorm(x, w, eps, unitOffset, cpuOut);
      cpu::rmsNormGrad(x, w, dy, eps, unitOffset, cpuDx, cpuDw);
      OnDevice dX = put(x), dW = put(w), dDy = put(dy);
      OnDevice out = space(c.x, shape), gx = space(c.x, shape),
               gw = space(c.w, {c.width});
      size_t bytes = normGradWorkspaceBytes(c.rows, c.width, f64);
      DeviceBuffer workspace(context(), std::max<size_t>(bytes, 1));
      launchRmsNorm(module, stream(), dX.tensor, dW.tensor, eps, unitOffset,
                    out.tensor);
      launchRmsNormGrad(module, stream(), dX.tensor, dW.tensor, dDy.tensor, eps,
                        unitOffset, gx.tensor, gw.tensor, workspace.address(),
                        bytes);
      Tensor gpuOut = get(out), gpuDx = get(gx), gpuDw = get(gw);
      expectWithin(what, gpuOut, gpuRef.out, f64);
      expectAgree(what, gpuOut, cpuOut, gpuRef.out, cpuRef.out, f64);
      expectWithin(what + " dx", gpuDx, gpuRef.dx, f64);
      expectAgree(what + " dx", gpuDx, cpuDx, gpuRef.dx, cpuRef.dx, f64);
      expectWithin(what + " dw", gpuDw, gpuRef.dw, f64);
      expectAgree(what + " dw", gpuDw, cpuDw, gpuRef.dw, cpuRef.dw, f64);
    }
  }
}

TEST_F(GpuReduce, LayerNormAndItsGradientMatchTheCpu) {
  Module module = load(normsSource());
  for (const NormCase &c : normCases()) {
    bool f64 = c.x == DType::F64 || c.w == DType::F64;
    double u = unitRoundoff(f64), eps = 1e-6;
    double epsAcc = f64 ? eps : double(float(eps));
    Shape shape = {c.rows, c.width};
    Tensor x = randomTensor(c.x, shape, 51, 2, 1.5); // a mean to subtract
    Tensor w = randomTensor(c.w, {c.width}, 52, 0.3, 1);
    Tensor b = randomTensor(c.w, {c.width}, 53);
    Tensor dy = randomTensor(c.x, shape, 54);
    std::string what = "layer_norm " + formatShape(shape) + " " +
                       std::string(dtypeName(c.x)) + "/" +
                       std::string(dtypeName(c.w));
    NormOutputs gpuRef = layerReference(
        x, w, &b, &dy, epsAcc, blockDepth(c.width), chunkDepth(c.rows), u);
    NormOutputs cpuRef = layerReference(x, w, &b, &dy, epsAcc, double(c.width),
                                        double(c.rows), u);
    Tensor cpuOut(c.x, shape), cpuDx(c.x, shape), cpuDw(c.w, {c.width}),
        cpuDb(c.w, {c.width});
    cpu::layerNorm(x, w, b, eps, cpuOut);
    cpu::layerNormGrad(x, w, dy, eps, cpuDx, cpuDw, cpuDb);
    OnDevice dX = put(x), dW = put(w), dB = put(b), dDy = put(dy);
    OnDevice out = space(c.x, shape), gx = space(c.x, shape),
             gw = space(c.w, {c.width}), gb = space(c.w, {c.width});
    size_t bytes = normGradWorkspaceBytes(c.rows, c.width, f64);
    DeviceBuffer workspace(context(), std::max<size_t>(bytes, 1));
    launchLayerNorm(module, stream(), dX.tensor, dW.tensor, dB.tensor, eps,
                    out.tensor);
    launchLayerNormGrad(module, stream(), dX.tensor, dW.tensor, dDy.tensor, eps,
                        gx.tensor, gw.tensor, gb.tensor, workspace.address(),
                        bytes);
    Tensor gpuOut = get(out), gpuDx = get(gx), gpuDw = get(gw), gpuDb = get(gb);
    expectWithin(what, gpuOut, gpuRef.out, f64);
    expectAgree(what, gpuOut, cpuOut, gpuRef.out, cpuRef.out, f64);
    expectWithin(what + " dx", gpuDx, gpuRef.dx, f64);
    expectAgree(what + " dx", gpuDx, cpuDx, gpuRef.dx, cpuRef.dx, f64);
    expectWithin(what + " dw", gpuDw, gpuRef.dw, f64);
    expectAgree(what + " dw", gpuDw, cpuDw, gpuRef.dw, cpuRef.dw, f64);
    expectWithin(what + " db", gpuDb, gpuRef.db, f64);
    expectAgree(what + " db", gpuDb, cpuDb, gpuRef.db, cpuRef.db, f64);
  }
}

// The same launch twice gives the same bits (fixed reduction order).
TEST_F(GpuReduce, ResultsAreIdenticalRunToRun) {
  Module norms = load(normsSource());
  Tensor x = randomTensor(DType::F32, {4096, 1152}, 61, 2, 1);
  Tensor w = randomTensor(DType::F32, {1152}, 62, 0.3, 1);
  Tensor dy = randomTensor(DType::F32, {4096, 1152}, 63);
  OnDevice dX = put(x), dW = put(w), dDy = put(dy);
  size_t bytes = normGradWorkspaceBytes(4096, 1152, false);
  DeviceBuffer workspace(context(), bytes);
  std::vector<Tensor> runs;
  for (int run = 0; run < 3; ++run) {
    OnDevice gx = space(DType::F32, {4096, 1152}),
             gw = space(DType::F32, {1152}), gb = space(DType::F32, {1152});
    launchLayerNormGrad(norms, stream(), dX.tensor, dW.tensor, dDy.tensor, 1e-6,
                        gx.tensor, gw.tensor, gb.tensor, workspace.address(),
                        bytes);
    runs.push_back(get(gw));
    runs.push_back(get(gx));
  }
  for (int run = 1; run < 3; ++run) {
    expectBitExact("run-to-run dw", runs[2 * run], runs[0]);
    expectBitExact("run-to-run dx", runs[2 * run + 1], runs[1]);
  }
}

} // namespace
} // namespace pgc::cuda
