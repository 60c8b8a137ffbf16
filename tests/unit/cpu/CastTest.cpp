// cast and iota against hand-worked conversions and a neighbour-search rounding
// reference.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <climits>
#include <cstring>

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

// Every bf16 and f16 pattern, and f32 patterns at random plus the special
// ones (zeros, infinities, quiet and signalling NaNs with payloads,
// subnormals, exact ties): the float-to-float fast paths give the bits of the
// element-by-element path, and f32 -> bf16 the nearest-search reference.
TEST(CpuCast, FloatFastPathsMatchTheElementwisePathBitForBit) {
  std::vector<uint32_t> f32Bits = {
      0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
      0xffc00001u, 0x7f800001u, 0x7fbfffffu, 0x00000001u, 0x807fffffu,
      0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0x7f7f8000u,
      0x33800000u, 0x387fe000u, 0x477ff000u, 0x477fefffu};
  std::mt19937 rng(21);
  for (int i = 0; i < (1 << 18); ++i)
    f32Bits.push_back(static_cast<uint32_t>(rng()));
  Tensor f32(DType::F32, {static_cast<int64_t>(f32Bits.size())});
  std::memcpy(f32.raw(), f32Bits.data(), f32Bits.size() * 4);
  Tensor bf16(DType::BF16, {65536}), f16(DType::F16, {65536});
  for (uint32_t v = 0; v < 65536; ++v)
    bf16.data<uint16_t>()[v] = f16.data<uint16_t>()[v] =
        static_cast<uint16_t>(v);
  for (const Tensor *x : {&f32, &bf16, &f16})
    for (DType to : {DType::BF16, DType::F16, DType::F32, DType::F64}) {
      Tensor fast(to, x->shape()), reference(to, x->shape());
      cast(*x, fast);
      castElementwise(*x, reference);
      int64_t first = -1;
      for (int64_t i = 0; i < x->numel() && first < 0; ++i)
        if (std::memcmp(
                static_cast<const char *>(fast.raw()) + i * dtypeSize(to),
                static_cast<const char *>(reference.raw()) + i * dtypeSize(to),
                dtypeSize(to)) != 0)
          first = i;
      EXPECT_EQ(first, -1) << dtypeName(x->dtype()) << "->" << dtypeName(to);
    }
  Tensor rounded(DType::BF16, f32.shape());
  cast(f32, rounded);
  for (int64_t i = 0; i < f32.numel(); ++i) {
    float value = f32.data<float>()[i];
    uint16_t got = rounded.data<uint16_t>()[i];
    if (std::isnan(value))
      ASSERT_TRUE(std::isnan(bf16ToF32(got))) << "element " << i;
    else if (std::fabs(static_cast<double>(value)) >=
             static_cast<double>(bf16ToF32(0x7f7f)) + std::ldexp(1.0, 119))
      // At or beyond half an ulp above the largest bf16: infinity (IEEE).
      ASSERT_EQ(bf16ToF32(got), std::copysign(INFINITY, value))
          << "element " << i;
    else
      ASSERT_EQ(got, nearestBf16(value)) << "element " << i;
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
