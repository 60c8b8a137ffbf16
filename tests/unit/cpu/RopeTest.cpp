// rope against an explicit rotation of each (k, k + D/2) pair, and against
// hand-computed angles.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

// Each pair (x[k], x[k + D/2]) is a point in the plane turned by the angle
// position * theta^(-2k/D).
std::vector<double> referenceRope(const Tensor &x, const Tensor &positions,
                                  double theta) {
  int64_t heads = x.dim(1), length = x.dim(2), width = x.dim(3);
  int64_t half = width / 2;
  std::vector<double> result(x.numel());
  for (int64_t v = 0; v < x.numel() / width; ++v) {
    int64_t b = v / (heads * length), l = v % length;
    double position = positions.at(b * length + l);
    for (int64_t k = 0; k < half; ++k) {
      double angle = position * std::pow(theta, -2.0 * k / width);
      double px = x.at(v * width + k), py = x.at(v * width + k + half);
      result[v * width + k] = px * std::cos(angle) - py * std::sin(angle);
      result[v * width + k + half] =
          px * std::sin(angle) + py * std::cos(angle);
    }
  }
  return result;
}

TEST(CpuRope, RotatesPairsByPositionTimesFrequency) {
  std::mt19937 rng(71);
  for (DType dtype : {DType::F64, DType::F32, DType::BF16}) {
    Tensor x = randomTensor(dtype, {2, 3, 5, 8}, rng);
    Tensor positions = randomInts(DType::I64, {2, 5}, rng, 0, 300);
    Tensor out(dtype, x.shape());
    rope(x, positions, 10000.0, out);
    // f32 angles of up to 300 radians carry ~300 * 2^-24 of error.
    double absTol = dtype == DType::F64 ? 1e-12 : 5e-5;
    expectClose(out, referenceRope(x, positions, 10000.0), absTol,
                roundingTolerance(dtype), "rope");
  }
}

TEST(CpuRope, PositionZeroIsIdentityAndHeadDimTwoTurnsByPosition) {
  Tensor x(DType::F32, {1, 1, 2, 2}), positions(DType::I32, {1, 2});
  x.set(0, 1.0); // position 0: (1, 0) stays
  x.set(2, 1.0); // position 1: (1, 0) -> (cos 1, sin 1), inv_freq[0] = 1
  positions.set(1, 1);
  Tensor out(DType::F32, {1, 1, 2, 2});
  rope(x, positions, 10000.0, out);
  EXPECT_EQ(out.at(0), 1.0f);
  EXPECT_EQ(out.at(1), 0.0f);
  EXPECT_NEAR(out.at(2), std::cos(1.0), 1e-7);
  EXPECT_NEAR(out.at(3), std::sin(1.0), 1e-7);
  Tensor odd(DType::F32, {1, 1, 2, 3}), oddOut(DType::F32, {1, 1, 2, 3});
  expectErrorContaining(
      [&] { rope(odd, positions, 1e4, oddOut); },
      "rope: head dim 3 of operand [1, 1, 2, 3] must be even");
}

} // namespace
} // namespace pgc::cpu
