// bf16 and f16 conversions against an independent reference: exact arithmetic in double.
#include "runtime/support/DType.h"
#include "runtime/support/Tensor.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <random>

namespace pgc {
namespace {

// Reference rounding: among the two neighbouring representable values (found by
// decoding candidate bit patterns), choose the nearer, ties to even mantissa.
uint16_t referenceBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint16_t down = static_cast<uint16_t>(bits >> 16);
  uint16_t up = static_cast<uint16_t>(down + 1);
  double lowValue = bf16ToF32(down), highValue = bf16ToF32(up);
  double x = value;
  double distLow = std::fabs(x - lowValue), distHigh = std::fabs(highValue - x);
  if (distLow < distHigh)
    return down;
  if (distHigh < distLow)
    return up;
  return (down & 1) ? up : down;
}

TEST(DType, Bf16RoundsToNearestEvenOnRandomValues) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bitsDist;
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = bitsDist(rng);
    float value;
    std::memcpy(&value, &bits, 4);
    if (!std::isfinite(value) || std::fabs(value) > 3.0e38f)
      continue;
    ASSERT_EQ(f32ToBf16(value), referenceBf16(value)) << value;
  }
}

TEST(DType, Bf16TiesGoToEven) {
  // 1 + 2^-8 lies halfway between bf16 1.0 (even) and 1.0078125 (odd).
  EXPECT_EQ(f32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1.0078125 + 2^-8 lies halfway between an odd and the next even pattern.
  EXPECT_EQ(f32ToBf16(1.0078125f + std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(f32ToBf16(-1.0f - std::ldexp(1.0f, -8)), 0xbf80);
}

TEST(DType, Bf16KeepsNaNAndInfinity) {
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(std::nanf("")))));
  EXPECT_EQ(bf16ToF32(f32ToBf16(INFINITY)), INFINITY);
  EXPECT_EQ(f32ToBf16(std::numeric_limits<float>::max()), 0x7f80); // rounds up
}

TEST(DType, F16MatchesExactRoundingOnAllHalfValuesAndMidpoints) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    float value = f16ToF32(static_cast<uint16_t>(h));
    ASSERT_EQ(f32ToF16(value), h);
    ASSERT_EQ(f32ToF16(-value), h | 0x8000u);
    // The midpoint to the next value must round to the even one of the two.
    double next = f16ToF32(static_cast<uint16_t>(h + 1));
    float mid = static_cast<float>((static_cast<double>(value) + next) / 2);
    uint32_t expected = (h & 1) ? h + 1 : h;
    ASSERT_EQ(f32ToF16(mid), expected) << "h=" << h;
  }
  EXPECT_EQ(f32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(f32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24));
}

TEST(DType, NamesRoundTrip) {
  for (DType d : {DType::BF16, DType::F16, DType::F32, DType::F64, DType::I32,
                  DType::I64, DType::U8, DType::Bool})
    EXPECT_EQ(parseDType(dtypeName(d)), d);
  EXPECT_FALSE(parseDType("f8").has_value());
}

} // namespace
} // namespace pgc

namespace pgc {
namespace {

// Nearest bf16 of a double by exhaustive comparison of the two neighbours.
uint16_t nearestBf16(double x) {
  uint16_t down = f32ToBf16(static_cast<float>(x));
  uint16_t best = down;
  double bestDist = std::fabs(bf16ToF32(down) - x);
  for (int delta : {-1, 1}) {
    uint16_t c = static_cast<uint16_t>(down + delta);
    double dist = std::fabs(bf16ToF32(c) - x);
    if (dist < bestDist || (dist == bestDist && (c & 1) == 0 && (best & 1)))
      best = c, bestDist = dist;
  }
  return best;
}

TEST(DType, F64ToBf16RoundsOnceEvenNearMidpoints) {
  // 1 + 2^-8 + 2^-30 is just above a bf16 midpoint; rounding to f32 first
  // lands exactly on the midpoint and ties to even (down): wrong.
  double x = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  EXPECT_EQ(f64ToBf16(x), 0x3f81);
  EXPECT_EQ(f32ToBf16(static_cast<float>(x)), 0x3f80); // the double rounding
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> dist(-4.0, 4.0);
  for (int i = 0; i < 100000; ++i) {
    double v = dist(rng);
    ASSERT_EQ(f64ToBf16(v), nearestBf16(v)) << v;
  }
  Tensor t(DType::F64, {1});
  t.data<double>()[0] = x;
  EXPECT_EQ(t.to(DType::BF16).data<uint16_t>()[0], 0x3f81);
}

} // namespace
} // namespace pgc
