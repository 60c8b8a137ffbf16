// SHA-256 (FIPS 180-4), used to name kernel-cache entries by their content and
// to detect corrupted entries.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgc::cuda {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
public:
  Sha256();
  void update(std::string_view bytes);
  Sha256Digest finish();

private:
  void compress(const uint8_t *block);
  std::array<uint32_t, 8> state_;
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t totalBytes_ = 0;
};

Sha256Digest sha256(std::string_view bytes);
std::string toHex(const Sha256Digest &digest);

} // namespace pgc::cuda
