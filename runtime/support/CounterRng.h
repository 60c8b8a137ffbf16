// The counter-based random numbers of pgc: parameter initialisation and dropout
// masks, where a value depends only on (seed, stream, index).
//
// Counter-based rather than a stateful generator so that a value does not
// depend on the order in which parameters are visited or elements are
// computed: a CPU loop, a thread pool or a CUDA grid get the same bits. The
// functions are plain integer arithmetic, header-only, and marked for CUDA so
// that kernels compiled by NVRTC embed this very file (the host-only name
// hashing is left out there; the host hashes the site and passes the base).
#pragma once

#if defined(__CUDACC_RTC__)
// NVRTC compiles this text as part of a kernel's source
// (runtime/cuda/kernels/Dropout.cpp embeds it): no standard headers there.
#define PGC_RNG_HD __device__
namespace pgc::rng {
typedef unsigned long long uint64_t;
}
#else
#include <cstdint>
#include <string_view>
#if defined(__CUDACC__)
#define PGC_RNG_HD __host__ __device__
#else
#define PGC_RNG_HD
#endif
#endif

namespace pgc::rng {

/// splitmix64's finaliser: a bijective avalanche of one 64-bit word.
PGC_RNG_HD inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Uniform in (0, 1): the top 53 bits, centred, so never exactly 0 or 1.
PGC_RNG_HD inline double unitInterval(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

#if !defined(__CUDACC_RTC__)
/// FNV-1a of a name (a parameter or a dropout site), the stream selector.
inline uint64_t hashName(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

/// The base counter of parameter `name`'s initial values under `seed`:
/// element i draws mix(base + i) (and base + 2i, 2i + 1 for normals).
inline uint64_t initStream(uint64_t seed, std::string_view name) {
  return mix(seed ^ mix(hashName(name)));
}
#endif

/// The base counter of one dropout mask: run seed, micro-batch counter and the
/// dropout site's name hash. Element i is kept iff
/// unitInterval(mix(base + i)) >= p.
PGC_RNG_HD inline uint64_t dropoutStream(uint64_t seed, uint64_t counter,
                                         uint64_t siteHash) {
  return mix(mix(mix(seed) ^ counter) ^ siteHash);
}

PGC_RNG_HD inline bool dropoutKeeps(uint64_t base, uint64_t index, double p) {
  return unitInterval(mix(base + index)) >= p;
}

} // namespace pgc::rng
