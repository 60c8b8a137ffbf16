// Every backward kernel against f64 central finite differences of its forward
// kernel.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <functional>

namespace pgc::cpu {
namespace {
using namespace test;

// The step balances truncation error (~h^2) against cancellation (~1e-16/h)
// for values of order 1: both stay near 1e-10, far below the 1e-6 bound.
constexpr double kStep = 1e-5;
constexpr double kRelativeBound = 1e-6;

double dot(const Tensor &a, const Tensor &b) {
  double sum = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    sum += a.at(i) * b.at(i);
  return sum;
}

// Compares `analytic` with central differences of `objective` with respect
// to every element of `x` (perturbed in place): max |fd - analytic| must be
// within kRelativeBound of max |analytic|, which must not be zero.
void checkGradient(Tensor &x, const Tensor &analytic,
                   const std::function<double()> &objective,
                   const std::string &what) {
  ASSERT_EQ(x.shape(), analytic.shape()) << what;
  double worstError = 0, largest = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double saved = x.at(i);
    x.set(i, saved + kStep);
    double up = objective();
    x.set(i, saved - kStep);
    double down = objective();
    x.set(i, saved);
    double numeric = (up - down) / (2 * kStep);
    worstError = std::max(worstError, std::fabs(numeric - analytic.at(i)));
    largest = std::max(largest, std::fabs(analytic.at(i)));
  }
  ASSERT_GT(largest, 0) << what << ": gradient is identically zero";
  EXPECT_LE(worstError, kRelativeBound * largest)
      << what << ": worst error " << worstError << ", gradient scale "
      << largest;
}

TEST(CpuGrad, GeluTanh) {
  std::mt19937 rng(101);
  Tensor x = randomTensor(DType::F64, {3, 7}, rng, -3, 3);
  Tensor dy = randomTensor(DType::F64, {3, 7}, rng);
  Tensor dx(DType::F64, x.shape()), y(DType::F64, x.shape());
  geluTanhGrad(x, dy, dx);
  checkGradient(
      x, dx,
      [&] {
        unary(UnaryOp::GeluTanh, x, y);
        return dot(y, dy);
      },
      "gelu_tanh");
}

TEST(CpuGrad, Softmax) {
  std::mt19937 rng(102);
  for (int64_t axis : {0, 1, -1}) {
    Tensor x = randomTensor(DType::F64, {3, 4, 5}, rng, -2, 2);
    Tensor dy = randomTensor(DType::F64, x.shape(), rng);
    Tensor y(DType::F64, x.shape()), dx(DType::F64, x.shape());
    softmax(x, axis, y);
    softmaxGrad(y, dy, axis, dx);
    checkGradient(
        x, dx,
        [&] {
          softmax(x, axis, y);
          return dot(y, dy);
        },
        "softmax axis " + std::to_string(axis));
  }
}

TEST(CpuGrad, LayerNorm) {
  std::mt19937 rng(103);
  Tensor x = randomTensor(DType::F64, {4, 6}, rng, -2, 2);
  Tensor w = randomTensor(DType::F64, {6}, rng, 0.5, 1.5);
  Tensor b = randomTensor(DType::F64, {6}, rng);
  Tensor dy = randomTensor(DType::F64, x.shape(), rng);
  Tensor y(DType::F64, x.shape()), dx(DType::F64, x.shape());
  Tensor dw(DType::F64, {6}), db(DType::F64, {6});
  layerNormGrad(x, w, dy, 1e-5, dx, dw, db);
  auto objective = [&] {
    layerNorm(x, w, b, 1e-5, y);
    return dot(y, dy);
  };
  checkGradient(x, dx, objective, "layer_norm dx");
  checkGradient(w, dw, objective, "layer_norm dw");
  checkGradient(b, db, objective, "layer_norm db");
}

TEST(CpuGrad, RmsNormBothConventions) {
  std::mt19937 rng(104);
  for (bool unitOffset : {true, false}) {
    Tensor x = randomTensor(DType::F64, {3, 2, 8}, rng, -2, 2);
    Tensor w = randomTensor(DType::F64, {8}, rng, -0.5, 0.5);
    Tensor dy = randomTensor(DType::F64, x.shape(), rng);
    Tensor y(DType::F64, x.shape()), dx(DType::F64, x.shape());
    Tensor dw(DType::F64, {8});
    rmsNormGrad(x, w, dy, 1e-6, unitOffset, dx, dw);
    auto objective = [&] {
      rmsNorm(x, w, 1e-6, unitOffset, y);
      return dot(y, dy);
    };
    std::string name = unitOffset ? "rms_norm (1 + w)" : "rms_norm w";
    checkGradient(x, dx, objective, name + " dx");
    checkGradient(w, dw, objective, name + " dw");
  }
}

TEST(CpuGrad, Rope) {
  std::mt19937 rng(105);
  Tensor x = randomTensor(DType::F64, {2, 2, 3, 6}, rng);
  Tensor positions = randomInts(DType::I32, {2, 3}, rng, 0, 50);
  Tensor dy = randomTensor(DType::F64, x.shape(), rng);
  Tensor y(DType::F64, x.shape()), dx(DType::F64, x.shape());
  ropeGrad(dy, positions, 10000.0, dx);
  checkGradient(
      x, dx,
      [&] {
        rope(x, positions, 10000.0, y);
        return dot(y, dy);
      },
      "rope");
}

void checkAttentionGradient(const Tensor *mask, const std::string &what,
                            std::mt19937 &rng) {
  const int64_t B = 2, Hq = 4, Hkv = 2, L = 4, S = 5, D = 3, Dv = 2;
  Tensor q = randomTensor(DType::F64, {B, Hq, L, D}, rng, -1.5, 1.5);
  Tensor k = randomTensor(DType::F64, {B, Hkv, S, D}, rng, -1.5, 1.5);
  Tensor v = randomTensor(DType::F64, {B, Hkv, S, Dv}, rng);
  Tensor dout = randomTensor(DType::F64, {B, Hq, L, Dv}, rng);
  Tensor out(DType::F64, dout.shape());
  Tensor dq(DType::F64, q.shape()), dk(DType::F64, k.shape()),
      dv(DType::F64, v.shape());
  attentionGrad(q, k, v, mask, 0.7, dout, dq, dk, dv);
  auto objective = [&] {
    attention(q, k, v, mask, 0.7, out);
    return dot(out, dout);
  };
  checkGradient(q, dq, objective, what + " dq");
  checkGradient(k, dk, objective, what + " dk");
  checkGradient(v, dv, objective, what + " dv");
}

TEST(CpuGrad, AttentionGroupedQueryWithMasks) {
  std::mt19937 rng(106);
  checkAttentionGradient(nullptr, "attention unmasked", rng);

  // Prefix-LM over 5 keys for 4 queries (prefix 2, causal after), batch 1
  // padded after 4 keys, and one fully masked row for head 3 of batch 0.
  Tensor boolMask(DType::Bool, {2, 4, 4, 5});
  for (int64_t i = 0; i < boolMask.numel(); ++i) {
    std::vector<int64_t> at = unflatten(i, boolMask.shape());
    int64_t b = at[0], h = at[1], l = at[2], s = at[3];
    bool allowed = (s < 2 || s <= l + 1) && !(b == 1 && s >= 4) &&
                   !(b == 0 && h == 3 && l == 1);
    boolMask.set(i, allowed);
  }
  checkAttentionGradient(&boolMask, "attention bool mask", rng);

  Tensor additive = randomTensor(DType::F64, {1, 4, 4, 5}, rng, -2, 0);
  additive.set(3, -INFINITY);
  checkAttentionGradient(&additive, "attention additive mask", rng);
}

TEST(CpuGrad, CrossEntropyWithIgnoreIndex) {
  std::mt19937 rng(107);
  Tensor logits = randomTensor(DType::F64, {2, 3, 5}, rng, -2, 2);
  Tensor labels = randomInts(DType::I64, {2, 3}, rng, 0, 4);
  labels.set(1, -100);
  labels.set(4, -100);
  Tensor dloss(DType::F64, {}), loss(DType::F64, {});
  dloss.set(0, 0.7);
  Tensor dlogits(DType::F64, logits.shape());
  crossEntropyGrad(logits, labels, -100, dloss, dlogits);
  checkGradient(
      logits, dlogits,
      [&] {
        crossEntropy(logits, labels, -100, loss);
        return 0.7 * loss.at(0);
      },
      "cross_entropy");
  for (int64_t c = 0; c < 5; ++c)
    EXPECT_EQ(dlogits.at(1 * 5 + c), 0.0) << "ignored row has a gradient";
}

} // namespace
} // namespace pgc::cpu
