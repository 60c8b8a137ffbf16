// SplitMix64 and the derived draws used by shuffles and the synthetic VQA set.
#include "runtime/data/Random.h"

#include <numeric>

namespace pgc {
namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

} // namespace

SeededRandom SeededRandom::forStream(uint64_t seed, uint64_t a, uint64_t b) {
  return SeededRandom(mix(mix(seed ^ 0x5EED5EED5EED5EEDull) + a) * 31 + mix(b));
}

uint64_t SeededRandom::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  return mix(state_);
}

uint64_t SeededRandom::below(uint64_t bound) {
  // Rejecting the incomplete top range keeps every residue equally likely.
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t value;
  do
    value = next();
  while (value >= limit);
  return value % bound;
}

int64_t SeededRandom::between(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
}

double SeededRandom::unit() {
  return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
}

std::vector<size_t> seededPermutation(size_t n, SeededRandom &random) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = n; i > 1; --i)
    std::swap(order[i - 1], order[random.below(i)]);
  return order;
}

} // namespace pgc
