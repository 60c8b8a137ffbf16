// Checks the NF4 reference against the published code table and kernel
// thresholds, hand-computed examples and brute force.
#include "runtime/quant/Nf4.h"
#include "runtime/quant/DynamicMap.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace pgc::quant {
namespace {

/// Inverse of the standard normal CDF by bisection in double: an independent
/// way to rebuild the NF4 levels from their definition.
double normalQuantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(Nf4, CodesAreTheNormalQuantilesOfThePaper) {
  // create_normal_map(offset=0.9677083): 8 positive quantiles of
  // linspace(offset, 0.5, 9)[:-1], 7 negative ones of linspace(offset, 0.5,
  // 8)[:-1], and 0, normalised by the largest.
  const double offset = 0.9677083;
  std::vector<double> levels = {0.0};
  for (int k = 0; k < 8; ++k)
    levels.push_back(normalQuantile(offset - k * (offset - 0.5) / 8));
  for (int k = 0; k < 7; ++k)
    levels.push_back(-normalQuantile(offset - k * (offset - 0.5) / 7));
  std::sort(levels.begin(), levels.end());
  double largest = levels.back();
  ASSERT_EQ(levels.size(), 16u);
  for (int i = 0; i < 16; ++i)
    EXPECT_NEAR(nf4Codes()[i], levels[i] / largest, 2e-7) << "index " << i;
}

TEST(Nf4, CodesMatchThePublishedTable) {
  const float published[16] = {-1.0f,
                               -0.6961928009986877f,
                               -0.5250730514526367f,
                               -0.39491748809814453f,
                               -0.28444138169288635f,
                               -0.18477343022823334f,
                               -0.09105003625154495f,
                               0.0f,
                               0.07958029955625534f,
                               0.16093020141124725f,
                               0.24611230194568634f,
                               0.33791524171829224f,
                               0.44070982933044434f,
                               0.5626170039176941f,
                               0.7229568362236023f,
                               1.0f};
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(nf4Codes()[i], published[i]) << "index " << i;
}

TEST(Nf4, ThresholdsAreFloatsNearestToTheMidpoints) {
  const auto &codes = nf4Codes();
  for (int i = 0; i < 15; ++i) {
    double midpoint =
        (static_cast<double>(codes[i]) + static_cast<double>(codes[i + 1])) / 2;
    float threshold = nf4Thresholds()[i];
    double halfUlp =
        (std::nextafter(threshold, INFINITY) - static_cast<double>(threshold)) /
        2;
    EXPECT_LE(std::fabs(threshold - midpoint), halfUlp) << "threshold " << i;
    EXPECT_GT(threshold, codes[i]);
    EXPECT_LT(threshold, codes[i + 1]);
  }
  // Two constants quoted in the spec (section 3.1).
  EXPECT_FLOAT_EQ(nf4Thresholds()[7], 0.03979015f);
  EXPECT_FLOAT_EQ(nf4Thresholds()[14], 0.8614784f);
}

TEST(Nf4, IndexIsTheNearestLevelAndTiesGoDown) {
  const auto &codes = nf4Codes();
  const auto &thresholds = nf4Thresholds();
  for (int t = 0; t < 15; ++t) {
    EXPECT_EQ(quantizeToNf4Index(thresholds[t]), t) << "on threshold " << t;
    EXPECT_EQ(quantizeToNf4Index(std::nextafter(thresholds[t], 2.0f)), t + 1);
  }
  EXPECT_EQ(quantizeToNf4Index(NAN), 0);
  EXPECT_EQ(quantizeToNf4Index(-3.0f), 0);
  EXPECT_EQ(quantizeToNf4Index(3.0f), 15);
  for (int step = 0; step <= 200000; ++step) {
    float x = -1.0f + 2.0f * static_cast<float>(step) / 200000.0f;
    int best = 0;
    for (int i = 1; i < 16; ++i)
      if (std::fabs(static_cast<double>(x) - codes[i]) <
          std::fabs(static_cast<double>(x) - codes[best]))
        best = i;
    ASSERT_EQ(quantizeToNf4Index(x), best) << "x = " << x;
  }
}

Tensor f32Tensor(Shape shape, const std::vector<float> &values) {
  Tensor tensor(DType::F32, std::move(shape));
  std::copy(values.begin(), values.end(), tensor.data<float>());
  return tensor;
}

TEST(Nf4, HandComputedExampleWithOddCount) {
  // absmax 1: 1 -> 15, -1 -> 0, 0 -> 7, 0.5 -> 12 (below 0.50166),
  // -0.25 -> 4 (below -0.23461); the missing 6th element pads with 0 -> 7.
  Tensor weight = f32Tensor({5}, {1.0f, -1.0f, 0.0f, 0.5f, -0.25f});
  Nf4Weight q = quantizeNf4(weight, {32, false}, "w");
  ASSERT_EQ(q.packed.numel(), 3);
  EXPECT_EQ(q.packed.data<uint8_t>()[0], 0xF0);
  EXPECT_EQ(q.packed.data<uint8_t>()[1], 0x7C);
  EXPECT_EQ(q.packed.data<uint8_t>()[2], 0x47);
  ASSERT_EQ(q.absmax.numel(), 1);
  EXPECT_EQ(q.absmax.data<float>()[0], 1.0f);
  Tensor back = dequantizeNf4(q, DType::F32);
  EXPECT_EQ(back.shape(), Shape{5});
  const float expected[5] = {1.0f, -1.0f, 0.0f, 0.44070982933044434f,
                             -0.28444138169288635f};
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(back.data<float>()[i], expected[i]) << i;
}

TEST(Nf4, HandComputedBf16Dequantization) {
  // absmax 2: 0.9 * 0.5 = 0.45 -> level 12; 0.44070982933 * 2 = 0.8814196...
  // = 1.76283931 * 2^-1; 1.76283931 * 128 = 225.64 -> 226 -> bf16 0x3F62.
  Tensor weight = f32Tensor({2}, {2.0f, 0.9f});
  Nf4Weight q = quantizeNf4(weight, {64, false}, "w");
  EXPECT_EQ(q.packed.data<uint8_t>()[0], 0xFC);
  Tensor back = dequantizeNf4(q, DType::BF16);
  EXPECT_EQ(back.data<uint16_t>()[0], 0x4000); // 2.0
  EXPECT_EQ(back.data<uint16_t>()[1], 0x3F62);
}

TEST(Nf4, BlocksRunAlongTheFlattenedRowsWithARaggedLastBlock) {
  // 3 x 50 = 150 values in blocks of 64: 64, 64, 22. Each block's absmax
  // is planted at a known place.
  std::vector<float> values(150, 0.01f);
  values[10] = -3.0f; // block 0
  values[64] = 0.5f;  // block 1, first element
  values[149] = 7.0f; // block 2, last element
  Nf4Weight q = quantizeNf4(f32Tensor({3, 50}, values), {64, false}, "w");
  ASSERT_EQ(q.numBlocks(), 3);
  EXPECT_EQ(q.absmax.data<float>()[0], 3.0f);
  EXPECT_EQ(q.absmax.data<float>()[1], 0.5f);
  EXPECT_EQ(q.absmax.data<float>()[2], 7.0f);
  EXPECT_EQ(q.packed.data<uint8_t>()[5] >> 4, 0);     // element 10 = -absmax
  EXPECT_EQ(q.packed.data<uint8_t>()[32] >> 4, 15);   // element 64 = +absmax
  EXPECT_EQ(q.packed.data<uint8_t>()[74] & 0x0F, 15); // element 149
  Tensor back = dequantizeNf4(q, DType::F32);
  EXPECT_EQ(back.shape(), (Shape{3, 50}));
  EXPECT_EQ(back.data<float>()[149], 7.0f);
}

TEST(Nf4, AllZeroBlockDequantizesToZero) {
  Nf4Weight q = quantizeNf4(f32Tensor({4}, {0, 0, 0, 0}), {64, false}, "w");
  // 0 * (1 / 0) is NaN, which the kernel's tree maps to index 0.
  EXPECT_EQ(q.packed.data<uint8_t>()[0], 0x00);
  Tensor back = dequantizeNf4(q, DType::F32);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(back.data<float>()[i], 0.0f);
}

std::vector<float> normalValues(size_t count, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(rng);
  return values;
}

TEST(Nf4, RoundTripPicksTheNearestLevelOfEveryElement) {
  const int64_t count = 64 * 300 + 17;
  std::vector<float> values = normalValues(count, 11, 0.02f);
  for (int64_t blockSize : {32, 64, 256, 4096}) {
    Nf4Weight q =
        quantizeNf4(f32Tensor({count}, values), {blockSize, false}, "w");
    Tensor back = dequantizeNf4(q, DType::F32);
    const auto &codes = nf4Codes();
    double squaredError = 0, squaredValue = 0;
    for (int64_t i = 0; i < count; ++i) {
      double absmax = q.absmax.data<float>()[i / blockSize];
      double error = std::fabs(back.data<float>()[i] - values[i]);
      double bestError = INFINITY;
      for (float code : codes)
        bestError = std::min(bestError, std::fabs(code * absmax - values[i]));
      // Nearest level up to the float rounding of x / absmax.
      ASSERT_LE(error, bestError + 1e-6 * absmax) << "i = " << i;
      // No element is further than half the widest gap (1 - 0.69619280).
      ASSERT_LE(error, absmax * 0.1519036 + 1e-7);
      squaredError += error * error;
      squaredValue += static_cast<double>(values[i]) * values[i];
    }
    // Gaussian weights keep about 9-11% relative RMS error at these blocks.
    EXPECT_LT(std::sqrt(squaredError / squaredValue), 0.12) << blockSize;
  }
}

TEST(Nf4, Bf16InputAndOutputAgreeWithF32Path) {
  std::vector<float> values = normalValues(1000, 5, 1.0f);
  Tensor asBf16 = f32Tensor({1000}, values).to(DType::BF16);
  Nf4Weight fromBf16 = quantizeNf4(asBf16, {64, false}, "w");
  Nf4Weight fromF32 = quantizeNf4(asBf16.to(DType::F32), {64, false}, "w");
  for (int64_t j = 0; j < 500; ++j)
    ASSERT_EQ(fromBf16.packed.data<uint8_t>()[j],
              fromF32.packed.data<uint8_t>()[j]);
  Tensor f32 = dequantizeNf4(fromBf16, DType::F32);
  Tensor bf16 = dequantizeNf4(fromBf16, DType::BF16);
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(bf16.data<uint16_t>()[i], f32ToBf16(f32.data<float>()[i]));
}

TEST(Nf4, DoubleQuantizationRoundTrip) {
  const int64_t blocks = 700; // three absmax groups of 256, the last ragged
  std::vector<float> values = normalValues(blocks * 64, 21, 0.03f);
  Nf4Weight single =
      quantizeNf4(f32Tensor({blocks * 64}, values), {64, false}, "w");
  Nf4Weight nested =
      quantizeNf4(f32Tensor({blocks * 64}, values), {64, true}, "w");
  nested.validate("w");
  ASSERT_EQ(nested.absmaxScales.numel(), 3);
  for (int64_t j = 0; j < blocks * 32; ++j)
    ASSERT_EQ(nested.packed.data<uint8_t>()[j],
              single.packed.data<uint8_t>()[j]);
  double mean = 0;
  for (int64_t b = 0; b < blocks; ++b)
    mean += single.absmax.data<float>()[b];
  mean /= blocks;
  EXPECT_NEAR(nested.absmaxOffset, mean, 1e-7);

  const auto &code8 = signedDynamicMap();
  Tensor singleBack = dequantizeNf4(single, DType::F32);
  Tensor nestedBack = dequantizeNf4(nested, DType::F32);
  for (int64_t b = 0; b < blocks; ++b) {
    float trueAbsmax = single.absmax.data<float>()[b];
    float scale2 = nested.absmaxScales.data<float>()[b / 256];
    // The hand formula of the spec: code8[q] * absmax2 + offset.
    float expected = code8[nested.absmaxCodes.data<uint8_t>()[b]] * scale2;
    expected = expected + nested.absmaxOffset;
    ASSERT_EQ(nested.blockAbsmax(b), expected);
    // The 8-bit code is the nearest one, so the error is at most half the
    // widest gap of the map (0.9 / 64) times the group's scale.
    ASSERT_LE(std::fabs(nested.blockAbsmax(b) - trueAbsmax),
              scale2 * 0.9f / 128 * 1.001f + 1e-7f)
        << "block " << b;
    for (int64_t i = b * 64; i < (b + 1) * 64; ++i) {
      uint8_t byte = nested.packed.data<uint8_t>()[i / 2];
      float level = nf4Codes()[i % 2 ? byte & 0xF : byte >> 4];
      ASSERT_EQ(nestedBack.data<float>()[i], level * nested.blockAbsmax(b));
    }
  }
}

TEST(Nf4, RejectsBadInput) {
  Tensor weight = f32Tensor({4}, {1, 2, 3, 4});
  EXPECT_THROW(quantizeNf4(weight, {48, true}, "w"), Error);
  EXPECT_THROW(quantizeNf4(weight, {8192, true}, "w"), Error);
  EXPECT_THROW(quantizeNf4(Tensor(DType::I32, {4}), {64, true}, "w"), Error);
  Nf4Weight q = quantizeNf4(weight, {64, true}, "w");
  q.absmaxCodes = Tensor(DType::U8, {2});
  try {
    q.validate("layer.0.q_proj.weight");
    FAIL() << "validate accepted a wrong absmax size";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("layer.0.q_proj.weight"),
              std::string::npos);
  }
  EXPECT_THROW(dequantizeNf4(quantizeNf4(weight, {64, false}, "w"), DType::I32),
               Error);
}

} // namespace
} // namespace pgc::quant
