// The dropout kernel against the mask formula written out independently here,
// and the statistics a dropout mask must have.
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/support/Error.h"
#include "tests/unit/cpu/TestUtil.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

namespace pgc::cpu {
namespace {

// The documented rule (docs/cpu-kernels.md, CounterRng.h), transcribed from
// the docs rather than shared with the kernel: splitmix64's finaliser,
// FNV-1a of the site, element i kept iff (bits(i) >> 11) + 0.5) / 2^53 >= p.
uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string &text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

bool expectedKeep(uint64_t seed, uint64_t counter, const std::string &site,
                  int64_t i, double p) {
  uint64_t base = splitmix(splitmix(splitmix(seed) ^ counter) ^ fnv1a(site));
  uint64_t bits = splitmix(base + static_cast<uint64_t>(i));
  double u = (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0;
  return u >= p;
}

Tensor keyOf(uint64_t seed, int64_t counter) {
  Tensor key(DType::I64, {2});
  key.data<int64_t>()[0] = static_cast<int64_t>(seed);
  key.data<int64_t>()[1] = counter;
  return key;
}

Tensor filled(DType dtype, const Shape &shape, double value) {
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, value);
  return t;
}

// Fraction of kept elements of ones(n) (kept ones become 1 / (1 - p) > 0).
double keptFraction(const Tensor &out) {
  int64_t kept = 0;
  for (int64_t i = 0; i < out.numel(); ++i)
    kept += out.at(i) != 0;
  return static_cast<double>(kept) / static_cast<double>(out.numel());
}

TEST(Dropout, MatchesTheDocumentedMaskAndScaleBitForBit) {
  std::mt19937 rng(3);
  // A seed above 2^63 checks that the key's bits pass through unchanged.
  const uint64_t seed = 0xfedcba9876543210ull;
  for (DType dtype : {DType::F32, DType::BF16, DType::F16, DType::F64}) {
    for (double p : {0.1, 0.5, 0.05}) {
      Tensor x = test::randomTensor(dtype, {7, 33}, rng, -3, 3);
      Tensor out(dtype, x.shape());
      dropout(x, keyOf(seed, 41), p, "layers.3.mlp.up_proj", out);
      int64_t dropped = 0;
      for (int64_t i = 0; i < x.numel(); ++i) {
        double expected = 0;
        if (expectedKeep(seed, 41, "layers.3.mlp.up_proj", i, p)) {
          // x * scale in the compute type (f32, f64 for f64), rounded once.
          expected =
              dtype == DType::F64
                  ? x.at(i) * (1.0 / (1.0 - p))
                  : static_cast<double>(static_cast<float>(x.at(i)) *
                                        static_cast<float>(1.0 / (1.0 - p)));
        } else {
          ++dropped;
        }
        Tensor rounded(dtype, {1});
        rounded.set(0, expected);
        ASSERT_EQ(out.at(i), rounded.at(0))
            << dtypeName(dtype) << " p " << p << " element " << i;
      }
      EXPECT_GT(dropped, 0) << dtypeName(dtype) << " p " << p;
    }
  }
}

TEST(Dropout, KeepsOneMinusPOfTheElementsAndPreservesTheMean) {
  const int64_t n = 1 << 20;
  for (double p : {0.05, 0.1, 0.3, 0.5}) {
    Tensor out(DType::F32, {n});
    dropout(filled(DType::F32, {n}, 1.0), keyOf(7, 0), p, "site", out);
    // Binomial(n, 1 - p): allow 5 standard deviations.
    double sigma = std::sqrt(p * (1 - p) / static_cast<double>(n));
    EXPECT_NEAR(keptFraction(out), 1 - p, 5 * sigma) << "p " << p;
    double mean = 0;
    for (int64_t i = 0; i < n; ++i)
      mean += out.at(i);
    mean /= static_cast<double>(n);
    EXPECT_NEAR(mean, 1.0, 5 * sigma / (1 - p)) << "p " << p;
  }
}

// Neighbouring elements, two sites and two counters draw independent masks:
// P(both kept) = (1 - p)^2 within 5 standard deviations.
TEST(Dropout, MasksOfNeighboursSitesAndStepsAreIndependent) {
  const int64_t n = 1 << 19;
  const double p = 0.3;
  Tensor ones = filled(DType::F32, {n}, 1.0);
  auto maskOf = [&](uint64_t seed, int64_t counter, const std::string &site) {
    Tensor out(DType::F32, {n});
    dropout(ones, keyOf(seed, counter), p, site, out);
    return out;
  };
  Tensor base = maskOf(1, 10, "q_proj");
  std::vector<std::pair<std::string, Tensor>> others = {
      {"next counter", maskOf(1, 11, "q_proj")},
      {"other site", maskOf(1, 10, "k_proj")},
      {"other seed", maskOf(2, 10, "q_proj")},
  };
  const double both = (1 - p) * (1 - p);
  const double sigma = std::sqrt(both * (1 - both) / static_cast<double>(n));
  int64_t neighbours = 0;
  for (int64_t i = 0; i + 1 < n; ++i)
    neighbours += base.at(i) != 0 && base.at(i + 1) != 0;
  EXPECT_NEAR(static_cast<double>(neighbours) / static_cast<double>(n - 1),
              both, 5 * sigma);
  for (const auto &[what, other] : others) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
      count += base.at(i) != 0 && other.at(i) != 0;
    EXPECT_NEAR(static_cast<double>(count) / static_cast<double>(n), both,
                5 * sigma)
        << what;
  }
  // The same key and site give the same mask.
  Tensor again = maskOf(1, 10, "q_proj");
  EXPECT_EQ(0, std::memcmp(base.raw(), again.raw(), base.byteSize()));
}

TEST(Dropout, ResultDoesNotDependOnTheThreadCount) {
  std::mt19937 rng(5);
  Tensor x = test::randomTensor(DType::F32, {300, 257}, rng);
  setThreadCount(1);
  Tensor one(DType::F32, x.shape());
  dropout(x, keyOf(9, 2), 0.2, "s", one);
  setThreadCount(4);
  Tensor four(DType::F32, x.shape());
  dropout(x, keyOf(9, 2), 0.2, "s", four);
  setThreadCount(0);
  EXPECT_EQ(0, std::memcmp(one.raw(), four.raw(), one.byteSize()));
}

TEST(Dropout, ZeroProbabilityIsTheIdentityAndBadOperandsFail) {
  std::mt19937 rng(6);
  Tensor x = test::randomTensor(DType::BF16, {5, 6}, rng);
  Tensor out(DType::BF16, x.shape());
  dropout(x, keyOf(1, 1), 0.0, "s", out);
  EXPECT_EQ(0, std::memcmp(x.raw(), out.raw(), x.byteSize()));
  EXPECT_THROW(dropout(x, keyOf(1, 1), 1.0, "s", out), Error);
  Tensor shortKey(DType::I64, {1});
  EXPECT_THROW(dropout(x, shortKey, 0.5, "s", out), Error);
  Tensor i32Key(DType::I32, {2});
  EXPECT_THROW(dropout(x, i32Key, 0.5, "s", out), Error);
  Tensor wrong(DType::F32, x.shape());
  EXPECT_THROW(dropout(x, keyOf(1, 1), 0.5, "s", wrong), Error);
}

} // namespace
} // namespace pgc::cpu
