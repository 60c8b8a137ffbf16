// Checks the GPU rope and cross-entropy kernels against the CPU kernels and a
// long double reference under written-down error bounds (on a device); the
// bounds themselves against the CPU kernels, the launch-time checks against
// the CPU's messages, and the sources' entry points (anywhere).
//
// Error model (first order; u = 2^-24 for f32, 2^-53 for f64; an "ulp" of v
// is at most 2u|v|; gamma_h = h u / (1 - h u) bounds a sum of depth h
// relative to the sum of its |terms|):
//
// rope: the GPU's angle is the CPU's, bit for bit (inv_freq computed on the
// host by the CPU's expression, one rounded product on the device), so the
// reference takes that angle as exact and evaluates cos/sin and the rotation
// in long double. An implementation whose cos/sin are within k ulp errs on
// out1 = x1 c - (sign x2) s by at most
//   2k u (|x1 c| + |x2 s|)  (cos/sin)  +  u (|x1 c| + |x2 s|) + u |out|
// (the two products and the difference each round once); the same for out2.
// k: GPU f32 1 (sin/cos in f64, rounded once: 0.5 ulp + 2^-29), CPU f32 1
// (glibc sinf/cosf, 0.56 ulp), GPU f64 2 (CUDA sincos), CPU f64 1 (glibc).
//
// cross-entropy, per counted row with max m, T = sum exp(x - m), L = log T,
// lse = m + L: each term of T errs by |x - m| u (the subtraction) + 4u (exp:
// CUDA expf/exp within 2 ulp, glibc within 1), T by the weighted mean of
// those plus gamma_h (positive terms; h = V for the CPU's sequential sum,
// ceil(V / threads) + log2(threads) for the GPU's block sum); L by that
// relative error plus 2u L (log within 1 ulp on both); lse by u |lse| more,
// the row's loss by u |loss| more. The mean: the row errors summed, plus
// gamma_H sum(loss) (H = rows or the GPU's block depth over rows), over the
// count, plus u |mean|. Gradient: exp(x - lse) perRow errs relatively by the
// lse error + u |x - lse| + 4u + u (perRow, the same bits on both); at the
// label the subtraction adds u |result|. Every bound is multiplied by 1.25
// for second-order terms and the reference's own rounding; a bf16/f16 result
// (or f32 from f64) adds half a step of its dtype per rounding side. GPU vs
// CPU: the sum of both bounds and a step per side.
#include "ErrorBounds.h"
#include "GpuFixture.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/cuda/kernels/RopeLoss.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <mutex>
#include <numeric>
#include <random>

namespace pgc::cuda {
namespace {

using LD = long double;

using bounds::gammaOf;
double unitRoundoff(bool f64) { return f64 ? 0x1p-53 : 0x1p-24; }

// Depth of a GPU block sum over `n` elements (reductionThreads).
double blockDepth(int64_t n) {
  int threads = reductionThreads(n);
  return double((n + threads - 1) / threads) + std::log2(double(threads));
}

// Normal values, generated in parallel (140M logits would take seconds on one
// thread); each fixed chunk has its own seed, so the values do not depend on
// the thread count.
Tensor randomTensor(DType dtype, const Shape &shape, uint32_t seed,
                    double scale = 1, double offset = 0) {
  Tensor t(dtype, shape);
  cpu::parallelFor(t.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    std::mt19937 rng(seed * 1000003u + static_cast<uint32_t>(begin >> 16));
    std::normal_distribution<double> normal(offset, scale);
    for (int64_t i = begin; i < end; ++i)
      cpu::writeFloatFromDouble(t, i, normal(rng));
  });
  return t;
}

Tensor indexTensor(DType dtype, const std::vector<int64_t> &values,
                   const Shape &shape) {
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::I32)
      t.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
    else
      t.data<int64_t>()[i] = values[i];
  }
  return t;
}

double value(const Tensor &t, int64_t i) {
  return cpu::readFloatAsDouble(t, i);
}

std::string messageOf(const std::function<void()> &body) {
  try {
    body();
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

// The worst error of a comparison as a fraction of its tolerance.
struct Report {
  double worstRatio = 0, worstError = 0;
  int64_t failures = 0, first = -1;
  void add(int64_t i, double error, double tolerance) {
    bool ok = error <= tolerance;
    double ratio = tolerance > 0 ? error / tolerance : (error > 0 ? 1e9 : 0);
    worstRatio = std::max(worstRatio, ratio);
    worstError = std::max(worstError, error);
    if (!ok && (failures++ == 0 || i < first))
      first = i;
  }
  void merge(const Report &other) {
    worstRatio = std::max(worstRatio, other.worstRatio);
    worstError = std::max(worstError, other.worstError);
    if (other.failures && (failures == 0 || other.first < first))
      first = other.first;
    failures += other.failures;
  }
};

void expectReport(const std::string &what, const Report &r) {
  std::cout << "  " << what << ": worst error " << r.worstError << ", "
            << r.worstRatio << " of the bound\n";
  EXPECT_EQ(r.failures, 0) << what << ": " << r.failures
                           << " outside the bound, first at " << r.first;
}

// Rope reference
// ---------------------------------------------------------------

// The CPU kernel's inverse frequencies (runtime/cpu/Rope.cpp), the same
// expression in the same type.
template <typename Acc>
std::vector<Acc> cpuInverseFrequencies(double theta, int64_t width) {
  std::vector<Acc> table(static_cast<size_t>(width / 2));
  for (int64_t k = 0; k < width / 2; ++k) {
    Acc exponent = static_cast<Acc>(2 * k) / static_cast<Acc>(width);
    table[k] = Acc(1) / std::pow(static_cast<Acc>(theta), exponent);
  }
  return table;
}

// The CPU's angle fl(fl(position) inv_freq[k]) for every (b, l, k).
template <typename Acc>
std::vector<LD> cpuAngles(const std::vector<int64_t> &positions, double theta,
                          int64_t width) {
  std::vector<Acc> inverse = cpuInverseFrequencies<Acc>(theta, width);
  int64_t half = width / 2;
  std::vector<LD> angles(positions.size() * half);
  for (size_t p = 0; p < positions.size(); ++p)
    for (int64_t k = 0; k < half; ++k)
      angles[p * half + k] = static_cast<Acc>(positions[p]) * inverse[k];
  return angles;
}

// out and, per element, |x1 c| + |x2 s| and |out| for the bound.
struct Rotation {
  std::vector<LD> value;
  std::vector<double> terms, magnitude;
  // The bound for cos/sin within `ulps` ulp of the compute type.
  double bound(int64_t i, double ulps, double u) const {
    return (2 * ulps + 1) * u * terms[i] + u * magnitude[i];
  }
};

Rotation ropeReference(const Tensor &x, const Tensor &positions, double theta,
                       int sign, bool f64) {
  std::vector<int64_t> pos = cpu::readIndices(positions, "test", "positions");
  int64_t B = x.dim(0), H = x.dim(1), L = x.dim(2), D = x.dim(3), half = D / 2;
  std::vector<LD> angles =
      f64 ? cpuAngles<double>(pos, theta, D) : cpuAngles<float>(pos, theta, D);
  std::vector<LD> cosines(angles.size()), sines(angles.size());
  for (size_t i = 0; i < angles.size(); ++i) {
    cosines[i] = std::cos(angles[i]);
    sines[i] = std::sin(angles[i]);
  }
  Rotation r;
  r.value.resize(x.numel());
  r.terms.resize(x.numel());
  r.magnitude.resize(x.numel());
  for (int64_t v = 0; v < B * H * L; ++v) {
    int64_t b = v / (H * L), l = v % L;
    for (int64_t k = 0; k < half; ++k) {
      LD c = cosines[(b * L + l) * half + k], s = sines[(b * L + l) * half + k];
      int64_t at = v * D + k;
      LD x1 = value(x, at), x2 = value(x, at + half);
      LD out1 = x1 * c - sign * x2 * s, out2 = x2 * c + sign * x1 * s;
      r.value[at] = out1;
      r.value[at + half] = out2;
      r.terms[at] = double(std::fabs(x1 * c) + std::fabs(x2 * s));
      r.terms[at + half] = double(std::fabs(x2 * c) + std::fabs(x1 * s));
      r.magnitude[at] = double(std::fabs(out1));
      r.magnitude[at + half] = double(std::fabs(out2));
    }
  }
  return r;
}

// |got - want| <= 1.25 bound + halfSteps * halfStep.
Report compareRotation(const Tensor &got, const Rotation &want, double ulps,
                       double halfSteps, bool f64) {
  double u = unitRoundoff(f64);
  Report report;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double w = double(want.value[i]), b = 1.25 * want.bound(i, ulps, u);
    double tolerance = b + halfSteps * bounds::storeRounding(got.dtype(), f64,
                                                             std::fabs(w) + b);
    report.add(i, double(std::fabs(LD(value(got, i)) - want.value[i])),
               tolerance);
  }
  return report;
}

// GPU against CPU: both bounds (k = gpuUlps and cpuUlps) and a step each.
Report compareRotations(const Tensor &gpu, const Tensor &cpu,
                        const Rotation &want, double gpuUlps, double cpuUlps,
                        bool f64) {
  double u = unitRoundoff(f64);
  Report report;
  for (int64_t i = 0; i < gpu.numel(); ++i) {
    double b = 1.25 * (want.bound(i, gpuUlps, u) + want.bound(i, cpuUlps, u));
    double tolerance =
        b + 2 * bounds::storeRounding(gpu.dtype(), f64,
                                      std::fabs(value(cpu, i)) + b);
    report.add(i, std::fabs(value(gpu, i) - value(cpu, i)), tolerance);
  }
  return report;
}

// Positions that are not 0..L-1: batch 0 runs with gaps and repeats, batch 1
// is random up to 8191 (angles up to ~8191 rad).
Tensor makePositions(DType dtype, int64_t B, int64_t L, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> values(static_cast<size_t>(B * L));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      values[b * L + l] =
          b % 2 == 0 ? (l < L / 2 ? l : 3 * l + 17) : int64_t(rng() % 8192);
  return indexTensor(dtype, values, {B, L});
}

// Cross-entropy reference
// -------------------------------------------------------

struct RowStats {
  bool counts = false;
  int64_t label = 0;
  LD lse = 0, loss = 0;
  // Relative error of T from the subtractions and exps, L = log T.
  double termError = 0, logTotal = 0;
  // The lse error of an implementation whose row sum has depth h.
  double lseError(double h, double u) const {
    return termError + gammaOf(h, u) + 2 * u * logTotal +
           u * double(std::fabs(lse));
  }
};

std::vector<RowStats> rowStats(const Tensor &logits,
                               const std::vector<int64_t> &labels,
                               int64_t ignore, double u) {
  int64_t V = logits.dim(-1), rows = static_cast<int64_t>(labels.size());
  std::vector<RowStats> stats(labels.size());
  cpu::parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      RowStats &s = stats[r];
      s.label = labels[r];
      s.counts = labels[r] != ignore;
      if (!s.counts)
        continue;
      LD m = -INFINITY;
      for (int64_t c = 0; c < V; ++c)
        m = std::max<LD>(m, value(logits, r * V + c));
      LD total = 0, weighted = 0;
      for (int64_t c = 0; c < V; ++c) {
        LD d = value(logits, r * V + c) - m, e = std::exp(d);
        total += e;
        weighted += e * (std::fabs(d) * u + 4 * u);
      }
      s.logTotal = double(std::log(total));
      s.lse = m + std::log(total);
      s.loss = s.lse - value(logits, r * V + s.label);
      s.termError = double(weighted / total);
    }
  });
  return stats;
}

struct Loss {
  LD value = 0;
  double bound(const std::vector<RowStats> &stats, double rowDepth,
               double meanDepth, double u) const {
    double errors = 0, sum = 0, count = 0;
    for (const RowStats &s : stats) {
      if (!s.counts)
        continue;
      errors += s.lseError(rowDepth, u) + u * double(s.loss);
      sum += double(s.loss);
      ++count;
    }
    return count ? (errors + gammaOf(meanDepth, u) * sum) / count +
                       u * double(std::fabs(value))
                 : 0;
  }
};

Loss lossReference(const std::vector<RowStats> &stats) {
  LD sum = 0;
  int64_t count = 0;
  for (const RowStats &s : stats)
    if (s.counts) {
      sum += s.loss;
      ++count;
    }
  return {count ? sum / count : 0};
}

void expectLoss(const std::string &what, const Tensor &gpu, const Tensor &cpu,
                const std::vector<RowStats> &stats, int64_t vocab, bool f64) {
  double u = unitRoundoff(f64);
  int64_t rows = static_cast<int64_t>(stats.size());
  Loss want = lossReference(stats);
  double gpuBound =
      1.25 * want.bound(stats, blockDepth(vocab), blockDepth(rows), u);
  double cpuBound = 1.25 * want.bound(stats, double(vocab), double(rows), u);
  double g = value(gpu, 0), c = value(cpu, 0);
  Report toReference, toCpu, cpuToReference;
  toReference.add(0, double(std::fabs(g - want.value)), gpuBound);
  cpuToReference.add(0, double(std::fabs(c - want.value)), cpuBound);
  toCpu.add(0, std::fabs(g - c), gpuBound + cpuBound);
  std::cout << "  " << what << ": gpu " << g << ", cpu " << c << ", reference "
            << double(want.value) << "\n";
  expectReport(what + " loss vs reference", toReference);
  expectReport(what + " cpu loss vs reference", cpuToReference);
  expectReport(what + " loss vs cpu", toCpu);
}

// dlogits of the GPU (when given) and the CPU against the reference, and
// against each other; rows that do not count must be exact +0 on both.
void expectGradient(const std::string &what, const Tensor &logits,
                    const std::vector<RowStats> &stats, double perRow,
                    const Tensor *gpuResult, const Tensor &cpu, bool f64) {
  const Tensor &gpu = gpuResult ? *gpuResult : cpu;
  double u = unitRoundoff(f64);
  int64_t V = logits.dim(-1), rows = static_cast<int64_t>(stats.size());
  double gpuDepth = blockDepth(V), cpuDepth = double(V);
  DType dtype = gpu.dtype();
  Report toReference, cpuToReference, toCpu;
  std::mutex mutex;
  cpu::parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    Report a, b, c;
    for (int64_t r = begin; r < end; ++r) {
      const RowStats &s = stats[r];
      double gpuLse = s.lseError(gpuDepth, u), cpuLse = s.lseError(cpuDepth, u);
      for (int64_t col = 0; col < V; ++col) {
        int64_t at = r * V + col;
        double g = value(gpu, at), k = value(cpu, at);
        if (!s.counts) {
          a.add(at, std::fabs(g) + (std::signbit(g) ? 1 : 0), 0);
          b.add(at, std::fabs(k) + (std::signbit(k) ? 1 : 0), 0);
          continue;
        }
        LD d = value(logits, at) - s.lse, p = std::exp(d) * LD(perRow);
        LD want = col == s.label ? p - LD(perRow) : p;
        double common =
            double(std::fabs(p)) * (double(std::fabs(d)) * u + 5 * u) +
            (col == s.label ? u * double(std::fabs(want)) : 0);
        double gb = 1.25 * (double(std::fabs(p)) * gpuLse + common);
        double cb = 1.25 * (double(std::fabs(p)) * cpuLse + common);
        double w = double(want);
        a.add(at, double(std::fabs(LD(g) - want)),
              gb + bounds::storeRounding(dtype, f64, std::fabs(w) + gb));
        b.add(at, double(std::fabs(LD(k) - want)),
              cb + bounds::storeRounding(dtype, f64, std::fabs(w) + cb));
        c.add(
            at, std::fabs(g - k),
            gb + cb +
                2 * bounds::storeRounding(dtype, f64, std::fabs(k) + gb + cb));
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    toReference.merge(a);
    cpuToReference.merge(b);
    toCpu.merge(c);
  });
  expectReport(what + " cpu dlogits vs reference", cpuToReference);
  if (!gpuResult)
    return;
  expectReport(what + " dlogits vs reference", toReference);
  expectReport(what + " dlogits vs cpu", toCpu);
}

// Labels: about `ignoredShare` of them ignoreIndex, the first V - 1 and the
// last 0 (the edges), the rest uniform in [0, V).
std::vector<int64_t> makeLabels(int64_t rows, int64_t V, int64_t ignore,
                                double ignoredShare, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    labels[r] = coin(rng) < ignoredShare ? ignore : int64_t(rng() % V);
  if (rows > 1) {
    labels.front() = V - 1;
    labels.back() = 0;
  }
  return labels;
}

double perRowOf(double dloss, const std::vector<int64_t> &labels,
                int64_t ignore, bool f64) {
  int64_t count = 0;
  for (int64_t label : labels)
    count += label != ignore;
  if (count == 0)
    return 0;
  return f64 ? dloss / double(count)
             : double(float(dloss) / static_cast<float>(count));
}

// Without a device: the bounds hold for the CPU kernels
// ---------------------------

TEST(RopeLossBounds, HoldForTheCpuRope) {
  for (DType dtype : {DType::F32, DType::F64, DType::BF16}) {
    bool f64 = dtype == DType::F64;
    Shape shape = f64 ? Shape{2, 3, 17, 6} : Shape{2, 8, 272, 256};
    Tensor x = randomTensor(dtype, shape, 1, 2);
    Tensor positions = makePositions(DType::I64, shape[0], shape[2], 2);
    Tensor out(dtype, shape), dx(f64 ? DType::F64 : DType::F32, shape);
    cpu::rope(x, positions, 10000.0, out);
    expectReport(std::string("cpu rope ") + std::string(dtypeName(dtype)),
                 compareRotation(out, ropeReference(x, positions, 1e4, 1, f64),
                                 1, 1, f64));
    cpu::ropeGrad(x, positions, 10000.0, dx);
    expectReport(std::string("cpu rope_grad ") + std::string(dtypeName(dtype)),
                 compareRotation(dx, ropeReference(x, positions, 1e4, -1, f64),
                                 1, 1, f64));
  }
}

TEST(RopeLossBounds, HoldForTheCpuCrossEntropy) {
  struct Case {
    Shape shape;
    DType dtype;
  };
  for (const Case &c :
       {Case{{2, 272, 1000}, DType::F32}, Case{{4, 257216}, DType::BF16},
        Case{{37, 129}, DType::F64}}) {
    bool f64 = c.dtype == DType::F64;
    double u = unitRoundoff(f64);
    Tensor logits = randomTensor(c.dtype, c.shape, 3, 4, 1);
    int64_t V = c.shape.back(), rows = logits.numel() / V;
    std::vector<int64_t> labels = makeLabels(rows, V, -100, 0.2, 4);
    Shape rowShape(c.shape.begin(), c.shape.end() - 1);
    Tensor labelTensor = indexTensor(DType::I64, labels, rowShape);
    Tensor loss(f64 ? DType::F64 : DType::F32, {});
    cpu::crossEntropy(logits, labelTensor, -100, loss);
    std::vector<RowStats> stats = rowStats(logits, labels, -100, u);
    Loss want = lossReference(stats);
    Report r;
    r.add(0, double(std::fabs(value(loss, 0) - want.value)),
          1.25 * want.bound(stats, double(V), double(rows), u));
    expectReport("cpu cross_entropy " + formatShape(c.shape), r);
    Tensor dloss(DType::F32, {});
    dloss.data<float>()[0] = 0.75f;
    Tensor dlogits(c.dtype, c.shape);
    cpu::crossEntropyGrad(logits, labelTensor, -100, dloss, dlogits);
    expectGradient("cpu " + formatShape(c.shape), logits, stats,
                   perRowOf(0.75, labels, -100, f64), nullptr, dlogits, f64);
  }
}

// Without a device: the launch-time checks
// -----------------------------------------

DeviceTensor refOf(const Tensor &t, api::CUdeviceptr address = 0x10000) {
  return {address, t.dtype(), t.shape()};
}

void expectSameFailure(const std::function<void()> &cpuCall,
                       const std::function<void()> &gpuCheck) {
  std::string cpuMessage = messageOf(cpuCall);
  EXPECT_NE(cpuMessage, "(no error)");
  EXPECT_EQ(messageOf(gpuCheck), cpuMessage);
}

TEST(RopeLossChecks, RopeFailsLikeTheCpu) {
  Tensor x(DType::F32, {2, 3, 5, 8}), out(DType::F32, {2, 3, 5, 8});
  Tensor positions(DType::I64, {2, 5});
  auto both = [](const Tensor &x, const Tensor &p, const Tensor &o) {
    expectSameFailure(
        [&] {
          Tensor result = o;
          cpu::rope(x, p, 1e4, result);
        },
        [&] { validateRope(refOf(x), refOf(p), refOf(o)); });
    expectSameFailure(
        [&] {
          Tensor result = o;
          cpu::ropeGrad(x, p, 1e4, result);
        },
        [&] { validateRopeGrad(refOf(x), refOf(p), refOf(o)); });
  };
  both(Tensor(DType::F32, {2, 5, 8}), positions, out); // rank
  both(Tensor(DType::F32, {2, 3, 5, 7}), positions,    // odd D
       Tensor(DType::F32, {2, 3, 5, 7}));
  both(x, Tensor(DType::I64, {2, 4}), out);             // positions
  both(x, positions, Tensor(DType::F32, {2, 3, 5, 6})); // out shape
  both(x, Tensor(DType::F32, {2, 5}), out);             // positions
  both(Tensor(DType::I32, {2, 3, 5, 8}), positions,     // operand
       Tensor(DType::I32, {2, 3, 5, 8}));
  both(x, positions, Tensor(DType::I32, {2, 3, 5, 8})); // result
  expectSameFailure(
      [&] {
        Tensor result(DType::BF16, {2, 3, 5, 8});
        cpu::rope(x, positions, 1e4, result);
      },
      [&] {
        validateRope(refOf(x), refOf(positions),
                     refOf(Tensor(DType::BF16, {2, 3, 5, 8})));
      });
  // rope_grad takes any float pair.
  EXPECT_NO_THROW(validateRopeGrad(refOf(x), refOf(positions),
                                   refOf(Tensor(DType::F64, x.shape()))));
  Tensor wide(DType::F32, {1, 1, 2, 514}), widePositions(DType::I32, {1, 2});
  EXPECT_EQ(messageOf([&] {
              validateRope(refOf(wide), refOf(widePositions), refOf(wide));
            }),
            "rope: head dim 514 exceeds the GPU kernel's limit of 512");
  Tensor widest(DType::F32, {1, 1, 2, 512});
  EXPECT_NO_THROW(
      validateRope(refOf(widest), refOf(widePositions), refOf(widest)));
}

TEST(RopeLossChecks, CrossEntropyFailsLikeTheCpu) {
  Tensor logits(DType::F32, {2, 3, 7}), labels(DType::I64, {2, 3});
  Tensor loss(DType::F32, {}), dloss(DType::F32, {});
  Tensor dlogits(DType::F32, {2, 3, 7});
  auto forward = [](const Tensor &x, const Tensor &l, const Tensor &o) {
    expectSameFailure(
        [&] {
          Tensor result = o;
          cpu::crossEntropy(x, l, -100, result);
        },
        [&] { validateCrossEntropy(refOf(x), refOf(l), refOf(o)); });
  };
  auto backward = [](const Tensor &x, const Tensor &l, const Tensor &d,
                     const Tensor &o) {
    expectSameFailure(
        [&] {
          Tensor result = o;
          cpu::crossEntropyGrad(x, l, -100, d, result);
        },
        [&] {
          validateCrossEntropyGrad(refOf(x), refOf(l), refOf(d), refOf(o));
        });
  };
  Tensor intLogits(DType::I32, {2, 3, 7}), scalar(DType::F32, {});
  Tensor wrongLabels(DType::I64, {2, 7}), floatLabels(DType::F32, {2, 3});
  forward(intLogits, labels, loss);
  forward(scalar, Tensor(DType::I64, {}), loss);
  forward(logits, wrongLabels, loss);
  forward(logits, floatLabels, loss);
  forward(logits, labels, Tensor(DType::F64, {}));
  forward(logits, labels, Tensor(DType::F32, {1}));
  forward(Tensor(DType::F64, {2, 3, 7}), labels, loss);
  backward(intLogits, labels, dloss, dlogits);
  backward(logits, wrongLabels, dloss, dlogits);
  backward(logits, floatLabels, dloss, dlogits);
  backward(logits, labels, Tensor(DType::F32, {1}), dlogits);
  backward(logits, labels, Tensor(DType::I32, {}), dlogits);
  backward(logits, labels, dloss, Tensor(DType::F32, {2, 3}));
  backward(logits, labels, dloss, Tensor(DType::I32, {2, 3, 7}));
  EXPECT_NO_THROW(validateCrossEntropyGrad(
      refOf(logits), refOf(labels), refOf(Tensor(DType::F64, {})),
      refOf(Tensor(DType::BF16, {2, 3, 7}))));
  EXPECT_EQ(crossEntropyWorkspaceBytes(refOf(logits)), 8u + 6 * 4);
  EXPECT_EQ(crossEntropyWorkspaceBytes(refOf(Tensor(DType::F64, {5, 0}))),
            8u + 5 * 8);
  EXPECT_EQ(crossEntropyGradWorkspaceBytes(), 8u);
}

TEST(RopeLossSources, CompileToEveryKernelTheLaunchersName) {
  if (!Nvrtc::instance().available())
    GTEST_SKIP() << "no NVRTC: " << Nvrtc::instance().unavailableReason();
  std::string rope =
      Nvrtc::instance().compile(ropeSource(), CompileTarget{80, true}).image;
  std::string loss = Nvrtc::instance()
                         .compile(crossEntropySource(), CompileTarget{80, true})
                         .image;
  auto defines = [](const std::string &ptx, const std::string &name) {
    return ptx.find(".entry " + name + "(") != std::string::npos;
  };
  for (const char *acc : {"float", "double"})
    for (const char *id : {"i32", "i64"}) {
      std::string suffix = std::string(acc) + "_" + id;
      EXPECT_TRUE(defines(rope, "pgc_rope_" + suffix)) << suffix;
      EXPECT_TRUE(defines(loss, "pgc_cross_entropy_rows_" + suffix)) << suffix;
      EXPECT_TRUE(defines(loss, "pgc_cross_entropy_grad_" + suffix)) << suffix;
    }
  for (const char *name :
       {"pgc_cross_entropy_count_i32", "pgc_cross_entropy_count_i64",
        "pgc_cross_entropy_mean_float", "pgc_cross_entropy_mean_double"})
    EXPECT_TRUE(defines(loss, name)) << name;
  // The inverse frequencies are read from the parameter space into shared
  // memory, never copied to per-thread local memory, and no kernel spills:
  // the only local memory is CUDA's own, in the slow path of its f64
  // argument reduction for sin/cos of huge angles.
  for (const std::string *ptx : {&rope, &loss}) {
    size_t at = 0;
    while ((at = ptx->find(".local", at)) != std::string::npos) {
      size_t function = ptx->rfind(".func", at),
             entry = ptx->rfind(".entry", at);
      ASSERT_NE(function, std::string::npos);
      EXPECT_TRUE(entry == std::string::npos || entry < function);
      EXPECT_NE(ptx->substr(function, at - function)
                    .find("__internal_trig_reduction_slowpath"),
                std::string::npos);
      ++at;
    }
  }
}

// On the GPU
// ------------------------------------------------------------------

using GpuRopeLoss = GpuTest;

struct RopeCase {
  Shape shape;
  DType x, out;
  DType positions;
  bool grad;
};

TEST_F(GpuRopeLoss, RopeAndItsGradientMatchTheCpu) {
  Module module = load(ropeSource());
  const std::vector<RopeCase> cases = {
      {{2, 8, 272, 256}, DType::BF16, DType::BF16, DType::I64, false},
      {{2, 8, 272, 256}, DType::F32, DType::F32, DType::I32, false},
      {{2, 8, 272, 256}, DType::BF16, DType::BF16, DType::I64, true},
      {{2, 8, 272, 256}, DType::BF16, DType::F32, DType::I32, true},
      {{2, 3, 17, 6}, DType::F64, DType::F64, DType::I64, false},
      {{2, 3, 17, 6}, DType::F64, DType::F64, DType::I32, true},
      {{1, 5, 33, 130}, DType::F32, DType::F32, DType::I64, false},
      {{3, 2, 9, 2}, DType::F16, DType::F16, DType::I32, false},
      {{1, 4, 31, 64}, DType::F32, DType::F64, DType::I64, true},
      {{1, 1, 3, 512}, DType::F32, DType::F32, DType::I64, false},
  };
  uint32_t seed = 100;
  for (const RopeCase &c : cases) {
    bool f64 =
        c.grad ? (c.x == DType::F64 || c.out == DType::F64) : c.x == DType::F64;
    for (double theta : {10000.0, 500000.0}) {
      Tensor x = randomTensor(c.x, c.shape, ++seed, 2);
      Tensor positions =
          makePositions(c.positions, c.shape[0], c.shape[2], ++seed);
      Tensor cpuOut(c.out, c.shape);
      OnDevice dx = put(x), dp = put(positions), out = space(c.out, c.shape);
      if (c.grad) {
        cpu::ropeGrad(x, positions, theta, cpuOut);
        launchRopeGrad(module, stream(), dx.tensor, dp.tensor, theta,
                       out.tensor);
      } else {
        cpu::rope(x, positions, theta, cpuOut);
        launchRope(module, stream(), dx.tensor, dp.tensor, theta, out.tensor);
      }
      Tensor gpu = get(out);
      Rotation want = ropeReference(x, positions, theta, c.grad ? -1 : 1, f64);
      std::string what = std::string(c.grad ? "rope_grad " : "rope ") +
                         formatShape(c.shape) + " " +
                         std::string(dtypeName(c.x)) + "->" +
                         std::string(dtypeName(c.out)) + " theta " +
                         std::to_string(int64_t(theta));
      double gpuUlps = f64 ? 2 : 1;
      expectReport(what, compareRotation(gpu, want, gpuUlps, 1, f64));
      expectReport(what + " vs CPU",
                   compareRotations(gpu, cpuOut, want, gpuUlps, 1, f64));
    }
  }
  // Nothing to rotate: no launch, no error.
  Tensor empty(DType::F32, {0, 2, 3, 4});
  OnDevice de = put(empty), dp = put(Tensor(DType::I64, {0, 3}));
  EXPECT_NO_THROW(
      launchRope(module, stream(), de.tensor, dp.tensor, 1e4, de.tensor));
}

struct LossCase {
  Shape shape;
  DType logits, dlogits, dloss, labels;
  int64_t ignore;
  double ignoredShare;
};

TEST_F(GpuRopeLoss, CrossEntropyAndItsGradientMatchTheCpu) {
  Module module = load(crossEntropySource());
  DeviceBuffer word(context(), 8);
  const std::vector<LossCase> cases = {
      {{2, 272, 257216},
       DType::BF16,
       DType::BF16,
       DType::F32,
       DType::I64,
       -100,
       0.1},
      {{2, 272, 257216},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::I32,
       -100,
       0.1},
      {{2, 272, 1000},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::I64,
       -100,
       0.3},
      {{2, 272, 1000},
       DType::BF16,
       DType::F32,
       DType::BF16,
       DType::I32,
       -100,
       0.3},
      {{37, 129}, DType::F64, DType::F64, DType::F64, DType::I64, -100, 0.2},
      {{5, 7, 33}, DType::F16, DType::BF16, DType::F64, DType::I64, 3, 0.2},
      {{300, 3}, DType::F32, DType::F32, DType::F32, DType::I32, 1, 0.0},
      {{64, 1}, DType::BF16, DType::BF16, DType::F32, DType::I64, -100, 0.5},
      {{2, 272, 1000},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::I64,
       -100,
       1.0}, // all ignored: loss 0, dlogits 0
      {{0, 50}, DType::F32, DType::F32, DType::F32, DType::I64, -100, 0.0},
  };
  uint32_t seed = 200;
  for (const LossCase &c : cases) {
    bool lossF64 = c.logits == DType::F64;
    bool gradF64 = lossF64 || c.dlogits == DType::F64 || c.dloss == DType::F64;
    int64_t V = c.shape.back(), rows = 1;
    for (size_t d = 0; d + 1 < c.shape.size(); ++d)
      rows *= c.shape[d];
    Tensor logits = randomTensor(c.logits, c.shape, ++seed, 4, 1);
    // A row far above the rest, so that the max subtraction matters.
    if (rows > 3)
      for (int64_t col = 0; col < V; ++col)
        cpu::writeFloatFromDouble(logits, 3 * V + col,
                                  value(logits, 3 * V + col) + 60);
    std::vector<int64_t> labels =
        makeLabels(rows, V, c.ignore, c.ignoredShare, ++seed);
    if (c.ignoredShare == 1.0)
      std::fill(labels.begin(), labels.end(), c.ignore);
    Shape rowShape(c.shape.begin(), c.shape.end() - 1);
    Tensor labelTensor = indexTensor(c.labels, labels, rowShape);
    Tensor dloss(c.dloss, {});
    cpu::writeFloatFromDouble(dloss, 0, 0.75);
    std::string what = "cross_entropy " + formatShape(c.shape) + " " +
                       std::string(dtypeName(c.logits)) + "->" +
                       std::string(dtypeName(c.dlogits));

    Tensor cpuLoss(lossF64 ? DType::F64 : DType::F32, {});
    cpu::crossEntropy(logits, labelTensor, c.ignore, cpuLoss);
    Tensor cpuGrad(c.dlogits, c.shape);
    cpu::crossEntropyGrad(logits, labelTensor, c.ignore, dloss, cpuGrad);

    OnDevice dl = put(logits), dlab = put(labelTensor), dd = put(dloss);
    OnDevice loss = space(cpuLoss.dtype(), {});
    size_t bytes = crossEntropyWorkspaceBytes(dl.tensor);
    DeviceBuffer workspace(context(), bytes);
    launchCrossEntropy(module, stream(), dl.tensor, dlab.tensor, c.ignore,
                       loss.tensor, workspace.address(), bytes, word.address())
        .verify(stream());
    Tensor gpuLoss = get(loss);
    OnDevice grad = space(c.dlogits, c.shape);
    DeviceBuffer gradWorkspace(context(), crossEntropyGradWorkspaceBytes());
    launchCrossEntropyGrad(module, stream(), dl.tensor, dlab.tensor, c.ignore,
                           dd.tensor, grad.tensor, gradWorkspace.address(),
                           crossEntropyGradWorkspaceBytes(), word.address())
        .verify(stream());
    Tensor gpuGrad = get(grad);

    std::vector<RowStats> lossStats =
        rowStats(logits, labels, c.ignore, unitRoundoff(lossF64));
    if (c.ignoredShare == 1.0 || rows == 0) {
      EXPECT_EQ(value(gpuLoss, 0), 0.0) << what;
      EXPECT_FALSE(std::signbit(value(gpuLoss, 0))) << what;
    }
    expectLoss(what, gpuLoss, cpuLoss, lossStats, V, lossF64);
    std::vector<RowStats> gradStats =
        gradF64 == lossF64
            ? lossStats
            : rowStats(logits, labels, c.ignore, unitRoundoff(gradF64));
    expectGradient(what, logits, gradStats,
                   perRowOf(0.75, labels, c.ignore, gradF64), &gpuGrad, cpuGrad,
                   gradF64);
  }
}

// The same bits every run: the sums have a fixed order.
TEST_F(GpuRopeLoss, CrossEntropyIsDeterministic) {
  Module module = load(crossEntropySource());
  DeviceBuffer word(context(), 8);
  Tensor logits = randomTensor(DType::F32, {2, 272, 32000}, 300, 4);
  std::vector<int64_t> labels = makeLabels(544, 32000, -100, 0.1, 301);
  OnDevice dl = put(logits),
           dlab = put(indexTensor(DType::I64, labels, {2, 272}));
  size_t bytes = crossEntropyWorkspaceBytes(dl.tensor);
  DeviceBuffer workspace(context(), bytes);
  std::vector<float> results;
  for (int run = 0; run < 3; ++run) {
    OnDevice loss = space(DType::F32, {});
    launchCrossEntropy(module, stream(), dl.tensor, dlab.tensor, -100,
                       loss.tensor, workspace.address(), bytes, word.address())
        .verify(stream());
    results.push_back(get(loss).data<float>()[0]);
  }
  EXPECT_EQ(std::memcmp(&results[0], &results[1], 4), 0);
  EXPECT_EQ(std::memcmp(&results[0], &results[2], 4), 0);
}

// A bad label is reported after the launch with the CPU's message: the first
// bad position, whatever order the threads found them in.
TEST_F(GpuRopeLoss, BadLabelsFailWithTheCpuMessage) {
  Module module = load(crossEntropySource());
  DeviceBuffer word(context(), 8);
  Tensor logits = randomTensor(DType::F32, {2, 4, 8}, 400);
  Tensor dloss(DType::F32, {});
  dloss.data<float>()[0] = 1;
  for (DType labelType : {DType::I32, DType::I64})
    for (int64_t ignore : {int64_t(-100), int64_t(3)}) {
      Tensor labels =
          indexTensor(labelType, {0, 3, -100, 9, 7, -1, 8, 9}, {2, 4});
      OnDevice dl = put(logits), dlab = put(labels), dd = put(dloss);
      OnDevice loss = space(DType::F32, {}),
               grad = space(DType::F32, {2, 4, 8});
      size_t bytes = crossEntropyWorkspaceBytes(dl.tensor);
      DeviceBuffer workspace(context(), bytes);
      std::string cpuMessage = messageOf([&] {
        Tensor out(DType::F32, {});
        cpu::crossEntropy(logits, labels, ignore, out);
      });
      EXPECT_NE(cpuMessage.find("at position"), std::string::npos)
          << cpuMessage;
      EXPECT_EQ(messageOf([&] {
                  launchCrossEntropy(module, stream(), dl.tensor, dlab.tensor,
                                     ignore, loss.tensor, workspace.address(),
                                     bytes, word.address())
                      .verify(stream());
                }),
                cpuMessage);
      EXPECT_EQ(messageOf([&] {
                  launchCrossEntropyGrad(
                      module, stream(), dl.tensor, dlab.tensor, ignore,
                      dd.tensor, grad.tensor, workspace.address(),
                      crossEntropyGradWorkspaceBytes(), word.address())
                      .verify(stream());
                }),
                messageOf([&] {
                  Tensor out(DType::F32, {2, 4, 8});
                  cpu::crossEntropyGrad(logits, labels, ignore, dloss, out);
                }));
    }
  // The word is reset by each launch: good labels after bad ones pass.
  Tensor good = indexTensor(DType::I64, {0, 1, 2, 3, 4, 5, 6, 7}, {2, 4});
  OnDevice dl = put(logits), dlab = put(good), loss = space(DType::F32, {});
  size_t bytes = crossEntropyWorkspaceBytes(dl.tensor);
  DeviceBuffer workspace(context(), bytes);
  EXPECT_NO_THROW(launchCrossEntropy(module, stream(), dl.tensor, dlab.tensor,
                                     -100, loss.tensor, workspace.address(),
                                     bytes, word.address())
                      .verify(stream()));
  EXPECT_EQ(messageOf([&] {
              (void)launchCrossEntropy(module, stream(), dl.tensor, dlab.tensor,
                                       -100, loss.tensor, workspace.address(),
                                       bytes - 4, word.address());
            }),
            "cross_entropy: the workspace has " + std::to_string(bytes - 4) +
                " bytes, " + std::to_string(bytes) + " needed");
}

} // namespace
} // namespace pgc::cuda
