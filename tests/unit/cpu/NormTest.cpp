// softmax, layer_norm and rms_norm against row-by-row formulas evaluated in
// double.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

TEST(CpuSoftmax, AlongEachAxis) {
  std::mt19937 rng(61);
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (int64_t axis : {0, 1, 2, -1}) {
      Tensor x = randomTensor(dtype, {3, 4, 5}, rng, -8, 8);
      Tensor out(dtype, x.shape());
      softmax(x, axis, out);
      int64_t a = axis < 0 ? axis + 3 : axis;
      std::vector<double> expected(x.numel());
      for (int64_t i = 0; i < x.numel(); ++i) {
        std::vector<int64_t> index = unflatten(i, x.shape());
        double denominator = 0;
        for (int64_t j = 0; j < x.dim(a); ++j) {
          std::vector<int64_t> other = index;
          other[a] = j;
          denominator += std::exp(x.at(flatten(other, x.shape())));
        }
        expected[i] = std::exp(x.at(i)) / denominator;
      }
      expectClose(out, expected, dtype == DType::F64 ? 1e-15 : 1e-7,
                  roundingTolerance(dtype), "softmax");
    }
}

TEST(CpuLayerNorm, MatchesDoubleFormula) {
  std::mt19937 rng(62);
  for (DType dtype : {DType::F32, DType::BF16, DType::F64}) {
    Tensor x = randomTensor(dtype, {2, 3, 16}, rng, -3, 5);
    Tensor w = randomTensor(DType::F32, {16}, rng, 0.5, 1.5);
    Tensor b = randomTensor(DType::F32, {16}, rng);
    Tensor out(dtype, x.shape());
    layerNorm(x, w, b, 1e-6, out);
    std::vector<double> expected;
    for (int64_t r = 0; r < 6; ++r) {
      double sum = 0, sumSquares = 0;
      for (int64_t c = 0; c < 16; ++c) {
        sum += x.at(r * 16 + c);
        sumSquares += x.at(r * 16 + c) * x.at(r * 16 + c);
      }
      double mean = sum / 16, variance = sumSquares / 16 - mean * mean;
      for (int64_t c = 0; c < 16; ++c)
        expected.push_back((x.at(r * 16 + c) - mean) /
                               std::sqrt(variance + 1e-6) * w.at(c) +
                           b.at(c));
    }
    expectClose(out, expected, dtype == DType::F64 ? 1e-12 : 1e-5,
                roundingTolerance(dtype), "layer_norm");
  }
  Tensor x(DType::F32, {2, 4}), w(DType::F32, {3}), out(DType::F32, {2, 4});
  expectErrorContaining([&] { layerNorm(x, w, w, 1e-6, out); },
                        "layer_norm: weight has shape [3], expected [4]");
}

TEST(CpuRmsNorm, BothWeightConventions) {
  std::mt19937 rng(63);
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (bool unitOffset : {true, false}) {
      Tensor x = randomTensor(dtype, {5, 12}, rng, -4, 4);
      Tensor w = randomTensor(DType::F32, {12}, rng, -0.5, 0.5);
      Tensor out(dtype, x.shape());
      rmsNorm(x, w, 1e-6, unitOffset, out);
      std::vector<double> expected;
      for (int64_t r = 0; r < 5; ++r) {
        double meanSquare = 0;
        for (int64_t c = 0; c < 12; ++c)
          meanSquare += x.at(r * 12 + c) * x.at(r * 12 + c) / 12;
        for (int64_t c = 0; c < 12; ++c)
          expected.push_back(x.at(r * 12 + c) / std::sqrt(meanSquare + 1e-6) *
                             (unitOffset ? 1 + w.at(c) : w.at(c)));
      }
      expectClose(out, expected, dtype == DType::F64 ? 1e-12 : 1e-5,
                  roundingTolerance(dtype), "rms_norm");
    }
}

} // namespace
} // namespace pgc::cpu
