// matmul's naive and BLAS paths against a triple loop in double, for every
// transpose and batch form.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <cstdlib>

namespace pgc::cpu {
namespace {
using namespace test;

struct Case {
  Shape batch;
  bool sharedB;
  int64_t m, k, n;
};

Shape withMatrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// Reference: element (i, j) of batch p read through explicit index formulas
// for each layout; also returns sum |a||b| per output for the error bound.
void referenceMatmul(const Tensor &a, const Tensor &b, bool ta, bool tb,
                     const Case &c, std::vector<double> &result,
                     std::vector<double> &magnitude) {
  int64_t batches = numElements(c.batch);
  result.assign(batches * c.m * c.n, 0.0);
  magnitude.assign(result.size(), 0.0);
  for (int64_t p = 0; p < batches; ++p)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j)
        for (int64_t kk = 0; kk < c.k; ++kk) {
          double av = ta ? a.at(p * c.k * c.m + kk * c.m + i)
                         : a.at(p * c.m * c.k + i * c.k + kk);
          int64_t bBase = c.sharedB ? 0 : p * c.k * c.n;
          double bv =
              tb ? b.at(bBase + j * c.k + kk) : b.at(bBase + kk * c.n + j);
          result[(p * c.m + i) * c.n + j] += av * bv;
          magnitude[(p * c.m + i) * c.n + j] += std::fabs(av * bv);
        }
}

void checkPath(MatmulPath path, DType dtype, const Case &c, std::mt19937 &rng) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = randomTensor(
          dtype, withMatrix(c.batch, ta ? c.k : c.m, ta ? c.m : c.k), rng);
      Shape bBatch = c.sharedB ? Shape{} : c.batch;
      Tensor b = randomTensor(
          dtype, withMatrix(bBatch, tb ? c.n : c.k, tb ? c.k : c.n), rng);
      Tensor out(dtype, withMatrix(c.batch, c.m, c.n));
      matmul(a, b, ta, tb, out, path);
      std::vector<double> expected, magnitude;
      referenceMatmul(a, b, ta, tb, c, expected, magnitude);
      double accumulation = dtype == DType::F64 ? 1e-14 : 1e-6;
      double rounding = dtype == DType::BF16 ? 1.0 / 256 : 0;
      for (int64_t i = 0; i < out.numel(); ++i) {
        double bound = accumulation * c.k * magnitude[i] +
                       rounding * std::fabs(expected[i]);
        ASSERT_LE(std::fabs(out.at(i) - expected[i]), bound)
            << "path " << static_cast<int>(path) << " " << dtypeName(dtype)
            << " ta=" << ta << " tb=" << tb << " element " << i;
      }
    }
}

const Case kCases[] = {
    {{}, false, 5, 7, 3},     // plain 2-D
    {{2, 3}, false, 4, 6, 5}, // batched, same batch dims
    {{3}, true, 4, 9, 2},     // b shared across the batch
    {{}, false, 70, 40, 50},  // large enough for BLAS under Auto
    {{2}, true, 33, 65, 40},  // large, shared b
    {{2}, false, 1, 0, 3},    // empty contraction: zeros
};

TEST(CpuMatmul, NaivePathMatchesReference) {
  std::mt19937 rng(31);
  for (DType dtype : {DType::F32, DType::F64, DType::BF16})
    for (const Case &c : kCases)
      checkPath(MatmulPath::Naive, dtype, c, rng);
}

TEST(CpuMatmul, BlasPathMatchesReference) {
  if (!blasAvailable())
    GTEST_SKIP() << "pgc_cpu was built without OpenBLAS";
  std::mt19937 rng(32);
  for (DType dtype : {DType::F32, DType::F64, DType::BF16})
    for (const Case &c : kCases)
      checkPath(MatmulPath::Blas, dtype, c, rng);
}

TEST(CpuMatmul, AutoPathMatchesReference) {
  std::mt19937 rng(33);
  for (const Case &c : kCases)
    checkPath(MatmulPath::Auto, DType::F32, c, rng);
}

TEST(CpuMatmul, EnvironmentSwitchForcesNaivePath) {
  std::mt19937 rng(34);
  Tensor a = randomTensor(DType::F32, {64, 64}, rng);
  Tensor b = randomTensor(DType::F32, {64, 64}, rng);
  Tensor naive(DType::F32, {64, 64}), automatic(DType::F32, {64, 64});
  matmul(a, b, false, false, naive, MatmulPath::Naive);
  setenv("PGC_CPU_BLAS", "0", 1);
  matmul(a, b, false, false, automatic, MatmulPath::Auto);
  unsetenv("PGC_CPU_BLAS");
  EXPECT_TRUE(sameBytes(naive, automatic));
}

TEST(CpuMatmul, ShapeErrors) {
  Tensor a(DType::F32, {2, 3}), b(DType::F32, {4, 5}), out(DType::F32, {2, 5});
  expectErrorContaining([&] { matmul(a, b, false, false, out); },
                        "matmul: contraction sizes differ");
  Tensor a3(DType::F32, {2, 2, 3}), b3(DType::F32, {3, 3, 5});
  Tensor out3(DType::F32, {2, 2, 5});
  expectErrorContaining([&] { matmul(a3, b3, false, false, out3); },
                        "matmul: batch dims differ");
  Tensor b2(DType::F32, {3, 5}), wrong(DType::F32, {2, 5});
  expectErrorContaining([&] { matmul(a3, b2, false, false, wrong); },
                        "matmul: result has shape [2, 5], expected [2, 2, 5]");
  Tensor ints(DType::I32, {2, 3});
  expectErrorContaining([&] { matmul(ints, b2, false, false, out); },
                        "matmul: lhs must be a float tensor");
}

} // namespace
} // namespace pgc::cpu
