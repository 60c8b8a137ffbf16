// cast and iota against hand-worked conversions and a neighbour-search rounding
// reference.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <climits>

namespace pgc::cpu {
namespace {
using namespace test;

// Reference double -> bf16: try the bf16 patterns around the value and keep
// the nearest, ties to the even pattern. Independent of the kernel's
// round-to-odd trick.
uint16_t nearestBf16(double value) {
  float approx = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &approx, 4);
  uint16_t centre = static_cast<uint16_t>(bits >> 16);
  uint16_t best = centre;
  double bestDistance = INFINITY;
  for (int delta = -2; delta <= 2; ++delta) {
    uint16_t candidate = static_cast<uint16_t>(centre + delta);
    double distance =
        std::fabs(static_cast<double>(bf16ToF32(candidate)) - value);
    if (distance < bestDistance ||
        (distance == bestDistance && (candidate & 1) == 0)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

TEST(CpuCast, F64ToBf16RoundsOnce) {
  // 1 + 2^-8 + 2^-30 is just above the bf16 tie 1 + 2^-8, so the answer is
  // 1 + 2^-7; rounding to f32 first would land on the tie and give 1.
  Tensor x(DType::F64, {3}), out(DType::BF16, {3});
  x.set(0, 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30));
  x.set(1, -(1.0 + std::ldexp(1.0, -8))); // exact tie: to even (-1)
  x.set(2, 1e300);                        // overflow: infinity
  cast(x, out);
  EXPECT_EQ(out.at(0), 1.0 + std::ldexp(1.0, -7));
  EXPECT_EQ(out.at(1), -1.0);
  EXPECT_TRUE(std::isinf(out.at(2)));

  std::mt19937 rng(11);
  Tensor random = randomTensor(DType::F64, {2000}, rng, -100, 100);
  Tensor rounded(DType::BF16, {2000});
  cast(random, rounded);
  for (int64_t i = 0; i < random.numel(); ++i)
    ASSERT_EQ(rounded.data<uint16_t>()[i], nearestBf16(random.at(i)))
        << "value " << random.at(i);
}

TEST(CpuCast, FloatToIntTruncatesTowardZeroAndSaturates) {
  Tensor x(DType::F32, {6}), out(DType::I32, {6});
  double values[] = {2.7, -2.7, 0.5, NAN, 1e20, -1e20};
  for (int i = 0; i < 6; ++i)
    x.set(i, values[i]);
  cast(x, out);
  int32_t expected[] = {2, -2, 0, 0, INT32_MAX, INT32_MIN};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(out.data<int32_t>()[i], expected[i]) << "value " << values[i];
}

TEST(CpuCast, IntegersBoolsAndFloats) {
  Tensor ints(DType::I64, {4});
  int64_t values[] = {0, -3, (int64_t{1} << 32) + 5,
                      (int64_t{1} << 40) + (int64_t{1} << 32) + 1};
  std::memcpy(ints.raw(), values, sizeof(values));
  Tensor narrow(DType::I32, {4}), flags(DType::Bool, {4}),
      half(DType::BF16, {4});
  cast(ints, narrow);
  EXPECT_EQ(narrow.data<int32_t>()[2], 5); // keeps the low 32 bits
  cast(ints, flags);
  EXPECT_EQ(flags.data<uint8_t>()[0], 0);
  EXPECT_EQ(flags.data<uint8_t>()[1], 1);
  cast(ints, half);
  EXPECT_EQ(half.at(1), -3.0);
  // 2^40 + 2^32 + 1 is just above the tie between 2^40 and 2^40 + 2^33.
  EXPECT_EQ(half.at(3), std::ldexp(1.0, 40) + std::ldexp(1.0, 33));

  Tensor back(DType::F32, {4});
  cast(flags, back);
  EXPECT_EQ(back.at(0), 0.0);
  EXPECT_EQ(back.at(1), 1.0);
  Tensor floats(DType::F32, {3}), asBool(DType::Bool, {3});
  floats.set(0, 0.0);
  floats.set(1, -0.0);
  floats.set(2, 1e-30);
  cast(floats, asBool);
  EXPECT_EQ(asBool.data<uint8_t>()[0], 0);
  EXPECT_EQ(asBool.data<uint8_t>()[1], 0);
  EXPECT_EQ(asBool.data<uint8_t>()[2], 1);
}

TEST(CpuCast, FloatToFloatEveryPair) {
  std::mt19937 rng(12);
  const DType floats[] = {DType::BF16, DType::F16, DType::F32, DType::F64};
  for (DType from : floats)
    for (DType to : floats) {
      Tensor x = randomTensor(from, {64}, rng, -10, 10);
      Tensor out(to, {64});
      cast(x, out);
      std::vector<double> expected = valuesOf(x);
      expectClose(out, expected, 1e-7, roundingTolerance(to) / 2,
                  std::string(dtypeName(from)) + "->" +
                      std::string(dtypeName(to)));
    }
}

TEST(CpuCast, ShapeMismatchIsAnError) {
  Tensor x(DType::F32, {2}), out(DType::F32, {3});
  expectErrorContaining([&] { cast(x, out); },
                        "cast: result has shape [3], expected [2]");
}

TEST(CpuIota, IndexAlongDimInAnyDType) {
  for (DType dtype : {DType::I32, DType::I64, DType::F32, DType::BF16}) {
    Tensor out(dtype, {2, 3, 4});
    iota(1, out);
    for (int64_t i = 0; i < out.numel(); ++i)
      EXPECT_EQ(out.at(i), static_cast<double>(unflatten(i, out.shape())[1]));
    iota(-1, out);
    for (int64_t i = 0; i < out.numel(); ++i)
      EXPECT_EQ(out.at(i), static_cast<double>(unflatten(i, out.shape())[2]));
  }
  Tensor out(DType::I32, {2});
  expectErrorContaining([&] { iota(1, out); }, "iota: axis 1 is out of range");
}

} // namespace
} // namespace pgc::cpu
