// Helpers for the CPU kernel tests: random tensors, reading values as double,
// tolerance checks.
#pragma once

#include "runtime/support/Tensor.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace pgc::cpu::test {

/// A tensor of `dtype` filled with uniform values in [low, high) (rounded to
/// the dtype by Tensor::set).
inline Tensor randomTensor(DType dtype, const Shape &shape, std::mt19937 &rng,
                           double low = -1.0, double high = 1.0) {
  Tensor t(dtype, shape);
  std::uniform_real_distribution<double> dist(low, high);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, dist(rng));
  return t;
}

inline Tensor randomInts(DType dtype, const Shape &shape, std::mt19937 &rng,
                         int64_t low, int64_t high) {
  Tensor t(dtype, shape);
  std::uniform_int_distribution<int64_t> dist(low, high);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, static_cast<double>(dist(rng)));
  return t;
}

inline std::vector<double> valuesOf(const Tensor &t) {
  std::vector<double> values(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    values[i] = t.at(i);
  return values;
}

/// Checks |actual - expected| <= absTol + relTol * |expected| elementwise.
inline void expectClose(const Tensor &actual,
                        const std::vector<double> &expected, double absTol,
                        double relTol, const std::string &what) {
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size())) << what;
  int failures = 0;
  for (int64_t i = 0; i < actual.numel() && failures < 5; ++i) {
    double a = actual.at(i), e = expected[i];
    bool same = (std::isnan(a) && std::isnan(e)) || a == e ||
                std::fabs(a - e) <= absTol + relTol * std::fabs(e);
    if (!same) {
      ++failures;
      ADD_FAILURE() << what << ": element " << i << " is " << a << ", expected "
                    << e;
    }
  }
}

/// Relative tolerance that covers one rounding to the dtype plus f32 work.
inline double roundingTolerance(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return 1.0 / 128;
  case DType::F16:
    return 1.0 / 1024;
  case DType::F32:
    return 1e-5;
  default:
    return 1e-12;
  }
}

inline bool sameBytes(const Tensor &a, const Tensor &b) {
  return a.byteSize() == b.byteSize() &&
         std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

/// Row-major multi-index of flat index i.
inline std::vector<int64_t> unflatten(int64_t i, const Shape &shape) {
  std::vector<int64_t> index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = i % shape[d];
    i /= shape[d];
  }
  return index;
}

inline int64_t flatten(const std::vector<int64_t> &index, const Shape &shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d)
    flat = flat * shape[d] + index[d];
  return flat;
}

/// Runs `body` and checks that it throws pgc::Error whose message contains
/// `needle`.
template <typename Body>
void expectErrorContaining(Body &&body, const std::string &needle) {
  try {
    body();
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const std::exception &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos)
        << "message is not one line: " << e.what();
  }
}

} // namespace pgc::cpu::test
