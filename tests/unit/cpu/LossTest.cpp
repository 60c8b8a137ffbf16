// cross_entropy against log-softmax written in double, with ignore_index and
// bad-label errors.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

TEST(CpuCrossEntropy, TokenMeanSkipsIgnoredLabels) {
  std::mt19937 rng(91);
  for (DType dtype : {DType::F32, DType::BF16, DType::F64}) {
    const int64_t B = 3, L = 4, V = 11;
    Tensor logits = randomTensor(dtype, {B, L, V}, rng, -5, 5);
    Tensor labels = randomInts(DType::I64, {B, L}, rng, 0, V - 1);
    labels.set(0, -100);
    labels.set(5, -100);
    labels.set(11, -100);
    double total = 0;
    int count = 0;
    for (int64_t r = 0; r < B * L; ++r) {
      if (labels.at(r) == -100)
        continue;
      double sumExp = 0;
      for (int64_t c = 0; c < V; ++c)
        sumExp += std::exp(logits.at(r * V + c));
      total += -std::log(std::exp(logits.at(r * V + labels.at(r))) / sumExp);
      ++count;
    }
    Tensor out(dtype == DType::F64 ? DType::F64 : DType::F32, {});
    crossEntropy(logits, labels, -100, out);
    EXPECT_NEAR(out.at(0), total / count,
                (dtype == DType::F64 ? 1e-14 : 1e-6) * total / count);
  }
}

TEST(CpuCrossEntropy, NoCountedLabelGivesZero) {
  Tensor logits(DType::F32, {2, 3}), labels(DType::I32, {2}),
      out(DType::F32, {});
  labels.set(0, -100);
  labels.set(1, -100);
  out.set(0, 42.0);
  crossEntropy(logits, labels, -100, out);
  EXPECT_EQ(out.at(0), 0.0);
  Tensor dloss(DType::F32, {}), dlogits(DType::F32, {2, 3});
  dloss.set(0, 1.0);
  crossEntropyGrad(logits, labels, -100, dloss, dlogits);
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(dlogits.at(i), 0.0);
}

TEST(CpuCrossEntropy, BadLabelsAndShapesAreErrors) {
  Tensor logits(DType::F32, {2, 3}), labels(DType::I64, {2}),
      out(DType::F32, {});
  labels.set(1, 3);
  expectErrorContaining(
      [&] { crossEntropy(logits, labels, -100, out); },
      "cross_entropy: label 3 at position 1 is outside [0, 3) and is not the "
      "ignore index -100");
  labels.set(1, -5);
  expectErrorContaining([&] { crossEntropy(logits, labels, -100, out); },
                        "label -5");
  Tensor wrongLabels(DType::I64, {3});
  expectErrorContaining([&] { crossEntropy(logits, wrongLabels, -100, out); },
                        "cross_entropy: labels has shape [3], expected [2]");
  Tensor bf16Out(DType::BF16, {});
  labels.set(1, 0);
  expectErrorContaining([&] { crossEntropy(logits, labels, -100, bf16Out); },
                        "cross_entropy: result has dtype bf16, expected f32");
}

} // namespace
} // namespace pgc::cpu
