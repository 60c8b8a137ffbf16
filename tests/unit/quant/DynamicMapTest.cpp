// Checks the 8-bit dynamic map against values worked out by hand from its
// published construction, and its rounding.
#include "runtime/quant/DynamicMap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace pgc::quant {
namespace {

/// True when `actual` is within one float step of the decimal `expected`.
bool withinOneUlp(float actual, double expected) {
  float nearest = static_cast<float>(expected);
  return actual == nearest ||
         actual == std::nextafter(nearest, 2.0f * std::fabs(nearest) + 1) ||
         actual == std::nextafter(nearest, -2.0f * std::fabs(nearest) - 1);
}

TEST(DynamicMap, HasTheShapeOfTheSignedConstruction) {
  const auto &code = signedDynamicMap();
  for (int i = 1; i < 256; ++i)
    EXPECT_LT(code[i - 1], code[i]) << "index " << i;
  EXPECT_EQ(code[127], 0.0f);
  EXPECT_EQ(code[255], 1.0f);
  // 2^e values per decade 10^(e-6) .. 10^(e-5) for e = 0..6, on each side.
  int perDecade[7] = {};
  for (int i = 128; i < 255; ++i) {
    int e = static_cast<int>(std::floor(std::log10(code[i]))) + 7;
    ASSERT_GE(e, 0);
    ASSERT_LT(e, 7);
    ++perDecade[e];
    EXPECT_EQ(code[254 - i], -code[i]) << "index " << i;
  }
  for (int e = 0; e < 7; ++e)
    EXPECT_EQ(perDecade[e], 1 << e) << "decade " << e;
}

TEST(DynamicMap, MatchesHandComputedValues) {
  // Worked out from the construction: midpoints of linspace(0.1, 1, 2^e + 1)
  // times 10^(e-6). e=0: 0.55e-6; e=1: 0.325e-5, 0.775e-5; e=6: step 0.9/64,
  // largest midpoint 1 - 0.45/64 = 0.99296875, next 0.97890625; e=5 largest
  // 0.1 * (1 - 0.45/32) = 0.0985937500.
  const auto &code = signedDynamicMap();
  EXPECT_TRUE(withinOneUlp(code[128], 0.55e-6)) << code[128];
  EXPECT_TRUE(withinOneUlp(code[129], 0.325e-5)) << code[129];
  EXPECT_TRUE(withinOneUlp(code[130], 0.775e-5)) << code[130];
  EXPECT_TRUE(withinOneUlp(code[254], 0.99296875)) << code[254];
  EXPECT_TRUE(withinOneUlp(code[253], 0.97890625)) << code[253];
  EXPECT_TRUE(withinOneUlp(code[190], 0.0985937500)) << code[190];
  EXPECT_TRUE(withinOneUlp(code[191], 0.10703125)) << code[191];
  EXPECT_TRUE(withinOneUlp(code[0], -0.99296875)) << code[0];
  EXPECT_TRUE(withinOneUlp(code[126], -0.55e-6)) << code[126];
}

int bruteForceNearest(const std::array<float, 256> &code, float x,
                      bool *isTie) {
  int best = 0;
  double bestDistance = INFINITY;
  *isTie = false;
  for (int i = 0; i < 256; ++i) {
    double distance = std::fabs(static_cast<double>(x) - code[i]);
    if (distance < bestDistance) {
      *isTie = std::fabs(distance - bestDistance) < 1e-12;
      best = i;
      bestDistance = distance;
    } else if (std::fabs(distance - bestDistance) < 1e-12) {
      *isTie = true;
    }
  }
  return best;
}

TEST(DynamicMap, BinarySearchFindsTheNearestCode) {
  const auto &code = signedDynamicMap();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-7.0f, 0.0f);
  for (int trial = 0; trial < 200000; ++trial) {
    float x = trial % 2
                  ? uniform(rng)
                  : std::copysign(std::pow(10.0f, exponent(rng)), uniform(rng));
    bool isTie = false;
    int expected = bruteForceNearest(code, x, &isTie);
    if (isTie)
      continue;
    ASSERT_EQ(quantizeToDynamicIndex(code, x), expected) << "x = " << x;
  }
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(quantizeToDynamicIndex(code, code[i]), i);
  EXPECT_EQ(quantizeToDynamicIndex(code, 5.0f), 255);
  EXPECT_EQ(quantizeToDynamicIndex(code, -5.0f), 0);
}

TEST(DynamicMap, BlockwiseRoundTripStaysWithinHalfAGap) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> values(1000);
  for (float &v : values)
    v = normal(rng);
  Blockwise8Bit q = quantizeBlockwise8Bit(values.data(), 1000, 256);
  ASSERT_EQ(q.scales.size(), 4u);
  const auto &code = signedDynamicMap();
  for (int64_t i = 0; i < 1000; ++i) {
    float scale = q.scales[i / 256];
    // The largest gap between neighbouring codes is 0.9/64 (the top decade).
    EXPECT_LE(std::fabs(dequantizeBlockwise8BitAt(q, i) - values[i]),
              scale * (0.9f / 64 / 2) * 1.0001f)
        << "i = " << i;
    (void)code;
  }
  float blockMax = 0;
  for (int i = 768; i < 1000; ++i)
    blockMax = std::max(blockMax, std::fabs(values[i]));
  EXPECT_EQ(q.scales[3], blockMax);
}

} // namespace
} // namespace pgc::quant
