// bf16 and f16 conversions against an independent reference: exact arithmetic in double.
#include "runtime/support/DType.h"

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
