// cross_entropy against log-softmax written in double, with ignore_index and
// bad-label errors.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <cstring>

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

// PaliGemma's shifted loss takes the whole logits against labels moved left
// with ignore_index last, instead of the logits without their last row: the
// loss must be the same bits, and the gradient the same rows plus a zero row.
TEST(CpuCrossEntropy, IgnoringTheLastRowEqualsDroppingIt) {
  std::mt19937 rng(17);
  for (DType dtype : {DType::F32, DType::F64}) {
    const int64_t B = 3, L = 37, V = 29;
    Tensor logits = randomTensor(dtype, {B, L, V}, rng, -6, 6);
    Tensor shortLabels = randomInts(DType::I64, {B, L - 1}, rng, 0, V - 1);
    shortLabels.set(4, -100);
    shortLabels.set(L + 2, -100);
    Tensor shortLogits(dtype, {B, L - 1, V});
    slice(logits, {0, 0, 0}, {B, L - 1, V}, {1, 1, 1}, shortLogits);
    Tensor fullLabels(DType::I64, {B, L});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < L; ++i)
        fullLabels.set(b * L + i,
                       i + 1 < L ? shortLabels.at(b * (L - 1) + i) : -100);
    DType lossType = dtype == DType::F64 ? DType::F64 : DType::F32;
    Tensor dropped(lossType, {}), ignored(lossType, {});
    crossEntropy(shortLogits, shortLabels, -100, dropped);
    crossEntropy(logits, fullLabels, -100, ignored);
    EXPECT_EQ(0, std::memcmp(dropped.raw(), ignored.raw(), dropped.byteSize()));

    Tensor dloss(lossType, {});
    dloss.set(0, 0.75);
    Tensor shortGrad(dtype, {B, L - 1, V}), fullGrad(dtype, {B, L, V});
    crossEntropyGrad(shortLogits, shortLabels, -100, dloss, shortGrad);
    crossEntropyGrad(logits, fullLabels, -100, dloss, fullGrad);
    size_t row = static_cast<size_t>(V) * dtypeSize(dtype);
    for (int64_t b = 0; b < B; ++b) {
      const char *full =
          static_cast<const char *>(fullGrad.raw()) + b * L * row;
      const char *part =
          static_cast<const char *>(shortGrad.raw()) + b * (L - 1) * row;
      EXPECT_EQ(0, std::memcmp(full, part, (L - 1) * row)) << b;
      for (int64_t c = 0; c < V; ++c)
        EXPECT_EQ(fullGrad.at((b * L + L - 1) * V + c), 0.0);
    }
  }
}

// PaliGemma's loss reads bf16 logits directly: the loss must be the bits of
// the loss of their f32 cast, and the gradient the f32 gradient rounded once
// to bf16 (what the cast's own gradient gave before).
TEST(CpuCrossEntropy, Bf16LogitsGiveTheBitsOfTheirF32Cast) {
  std::mt19937 rng(23);
  const int64_t B = 2, L = 19, V = 301;
  Tensor logits = randomTensor(DType::BF16, {B, L, V}, rng, -8, 8);
  Tensor labels = randomInts(DType::I64, {B, L}, rng, 0, V - 1);
  labels.set(3, -100);
  Tensor wide = logits.to(DType::F32);
  Tensor fromBf16(DType::F32, {}), fromF32(DType::F32, {});
  crossEntropy(logits, labels, -100, fromBf16);
  crossEntropy(wide, labels, -100, fromF32);
  EXPECT_EQ(0, std::memcmp(fromBf16.raw(), fromF32.raw(), 4));

  Tensor dloss(DType::F32, {});
  dloss.set(0, 0.625);
  Tensor gradBf16(DType::BF16, {B, L, V}), gradF32(DType::F32, {B, L, V});
  crossEntropyGrad(logits, labels, -100, dloss, gradBf16);
  crossEntropyGrad(wide, labels, -100, dloss, gradF32);
  Tensor rounded = gradF32.to(DType::BF16);
  EXPECT_EQ(0, std::memcmp(gradBf16.raw(), rounded.raw(), rounded.byteSize()));
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
