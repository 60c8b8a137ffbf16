// Grouped-query attention against a repeat_kv-style reference with prefix-LM,
// padding and additive masks.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

// Reference: expand the kv heads as HF's repeat_kv does, then for each query
// row form the scores over the allowed keys, softmax and mix values, in
// double. `allowed(b, h, l, s)` and `bias(b, h, l, s)` describe the mask.
template <typename Allowed, typename Bias>
std::vector<double> referenceAttention(const Tensor &q, const Tensor &k,
                                       const Tensor &v, double scale,
                                       Allowed allowed, Bias bias) {
  int64_t B = q.dim(0), Hq = q.dim(1), L = q.dim(2), D = q.dim(3);
  int64_t Hkv = k.dim(1), S = k.dim(2), Dv = v.dim(3);
  std::vector<int64_t> kvHeadOf;
  for (int64_t kv = 0; kv < Hkv; ++kv)
    for (int64_t r = 0; r < Hq / Hkv; ++r)
      kvHeadOf.push_back(kv);
  std::vector<double> out(B * Hq * L * Dv, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t l = 0; l < L; ++l) {
        std::vector<double> weights(S, 0.0);
        double maximum = -INFINITY;
        for (int64_t s = 0; s < S; ++s) {
          if (!allowed(b, h, l, s))
            continue;
          double dot = 0;
          for (int64_t e = 0; e < D; ++e)
            dot += q.at(((b * Hq + h) * L + l) * D + e) *
                   k.at(((b * Hkv + kvHeadOf[h]) * S + s) * D + e);
          weights[s] = scale * dot + bias(b, h, l, s);
          maximum = std::max(maximum, weights[s]);
        }
        if (maximum == -INFINITY)
          continue; // fully masked: zeros
        double total = 0;
        for (int64_t s = 0; s < S; ++s) {
          weights[s] = allowed(b, h, l, s) ? std::exp(weights[s] - maximum) : 0;
          total += weights[s];
        }
        for (int64_t s = 0; s < S; ++s)
          for (int64_t e = 0; e < Dv; ++e)
            out[((b * Hq + h) * L + l) * Dv + e] +=
                weights[s] / total *
                v.at(((b * Hkv + kvHeadOf[h]) * S + s) * Dv + e);
      }
  return out;
}

double tolerance(DType dtype) { return dtype == DType::F64 ? 1e-13 : 1e-5; }

TEST(CpuAttention, GroupedQueryPrefixLmMaskWithRightPadding) {
  std::mt19937 rng(81);
  const int64_t B = 2, Hq = 4, Hkv = 2, L = 7, D = 8, Dv = 6;
  const int64_t prefix[B] = {3, 5}, valid[B] = {6, 7}; // batch 0: 1 pad
  auto allowed = [&](int64_t b, int64_t, int64_t l, int64_t s) {
    return s < valid[b] && (s < prefix[b] || s <= l);
  };
  Tensor mask(DType::Bool, {B, 1, L, L});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t s = 0; s < L; ++s)
        mask.set((b * L + l) * L + s, allowed(b, 0, l, s));
  for (DType dtype : {DType::F32, DType::F64, DType::BF16}) {
    Tensor q = randomTensor(dtype, {B, Hq, L, D}, rng, -2, 2);
    Tensor k = randomTensor(dtype, {B, Hkv, L, D}, rng, -2, 2);
    Tensor v = randomTensor(dtype, {B, Hkv, L, Dv}, rng);
    Tensor out(dtype, {B, Hq, L, Dv});
    attention(q, k, v, &mask, 0.125, out);
    auto noBias = [](int64_t, int64_t, int64_t, int64_t) { return 0.0; };
    expectClose(out, referenceAttention(q, k, v, 0.125, allowed, noBias),
                tolerance(dtype), roundingTolerance(dtype), "prefix-LM");
  }
}

TEST(CpuAttention, AdditiveMasksBroadcastOverBatchAndHeads) {
  std::mt19937 rng(82);
  const int64_t B = 2, Hq = 6, Hkv = 3, L = 4, S = 5, D = 4;
  Tensor q = randomTensor(DType::F32, {B, Hq, L, D}, rng);
  Tensor k = randomTensor(DType::F32, {B, Hkv, S, D}, rng);
  Tensor v = randomTensor(DType::F32, {B, Hkv, S, D}, rng);
  for (const Shape &maskShape : {Shape{1, 1, L, S}, Shape{B, 1, L, S},
                                 Shape{B, Hq, L, S}, Shape{1, Hq, L, S}}) {
    Tensor mask = randomTensor(DType::F32, maskShape, rng, -3, 0);
    mask.set(1, -INFINITY); // one key blocked in one row
    auto maskIndex = [&](int64_t b, int64_t h, int64_t l, int64_t s) {
      return ((maskShape[0] == 1 ? 0 : b) * maskShape[1] +
              (maskShape[1] == 1 ? 0 : h)) *
                 L * S +
             l * S + s;
    };
    auto allowed = [&](int64_t b, int64_t h, int64_t l, int64_t s) {
      return !std::isinf(mask.at(maskIndex(b, h, l, s)));
    };
    auto bias = [&](int64_t b, int64_t h, int64_t l, int64_t s) {
      return mask.at(maskIndex(b, h, l, s));
    };
    Tensor out(DType::F32, {B, Hq, L, D});
    attention(q, k, v, &mask, 0.5, out);
    expectClose(out, referenceAttention(q, k, v, 0.5, allowed, bias), 1e-6,
                1e-5, "additive mask " + formatShape(maskShape));
  }
  Tensor out(DType::F32, {B, Hq, L, D});
  attention(q, k, v, nullptr, 0.5, out);
  auto all = [](int64_t, int64_t, int64_t, int64_t) { return true; };
  auto none = [](int64_t, int64_t, int64_t, int64_t) { return 0.0; };
  expectClose(out, referenceAttention(q, k, v, 0.5, all, none), 1e-6, 1e-5,
              "no mask");
}

TEST(CpuAttention, FullyMaskedRowGivesZeros) {
  std::mt19937 rng(83);
  Tensor q = randomTensor(DType::F32, {1, 2, 3, 4}, rng);
  Tensor k = randomTensor(DType::F32, {1, 1, 3, 4}, rng);
  Tensor v = randomTensor(DType::F32, {1, 1, 3, 4}, rng, 1, 2);
  Tensor mask(DType::Bool, {1, 2, 3, 3});
  for (int64_t i = 0; i < mask.numel(); ++i)
    mask.set(i, 1);
  for (int64_t s = 0; s < 3; ++s)
    mask.set((1 * 3 + 2) * 3 + s, 0); // head 1, query 2: nothing allowed
  Tensor out(DType::F32, {1, 2, 3, 4});
  attention(q, k, v, &mask, 1.0, out);
  for (int64_t e = 0; e < 4; ++e)
    EXPECT_EQ(out.at((1 * 3 + 2) * 4 + e), 0.0);
  EXPECT_NE(out.at(0), 0.0); // v > 1 everywhere, so allowed rows are not 0
}

TEST(CpuAttention, ShapeErrors) {
  Tensor q(DType::F32, {1, 3, 2, 4}), k(DType::F32, {1, 2, 2, 4});
  Tensor out(DType::F32, {1, 3, 2, 4});
  expectErrorContaining([&] { attention(q, k, k, nullptr, 1.0, out); },
                        "attention: 3 query heads cannot share 2 kv heads");
  Tensor q2(DType::F32, {1, 2, 2, 4}), out2(DType::F32, {1, 2, 2, 4});
  Tensor mask(DType::Bool, {1, 1, 2, 3});
  expectErrorContaining([&] { attention(q2, k, k, &mask, 1.0, out2); },
                        "attention: mask has shape [1, 1, 2, 3]");
  Tensor intMask(DType::I32, {1, 1, 2, 2});
  expectErrorContaining([&] { attention(q2, k, k, &intMask, 1.0, out2); },
                        "attention: mask must be a float tensor, got i32");
}

} // namespace
} // namespace pgc::cpu
