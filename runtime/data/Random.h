// A seeded random generator whose stream is fixed by pgc itself, so that
// shuffles and synthetic data repeat on any platform.
//
// std::shuffle and the std:: distributions are implementation-defined; a
// checkpoint resumed on another standard library would see another order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pgc {

/// SplitMix64: a 64-bit state advanced by a constant and mixed on output.
class SeededRandom {
public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  /// Independent streams for (seed, a, b): epochs, splits, examples.
  static SeededRandom forStream(uint64_t seed, uint64_t a, uint64_t b = 0);

  uint64_t next();
  /// Uniform in [0, bound) without modulo bias; bound > 0.
  uint64_t below(uint64_t bound);
  /// Uniform in [lo, hi], inclusive.
  int64_t between(int64_t lo, int64_t hi);
  /// Uniform in [0, 1) with 53 random bits.
  double unit();

private:
  uint64_t state_;
};

/// A uniformly random permutation of 0 .. n-1 (Fisher-Yates).
std::vector<size_t> seededPermutation(size_t n, SeededRandom &random);

} // namespace pgc
