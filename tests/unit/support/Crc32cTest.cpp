// CRC-32C against the published check values (RFC 3720 B.4, and the
// "123456789" check value of the Castagnoli polynomial).
#include "runtime/support/Crc32c.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace pgc {
namespace {

TEST(Crc32c, MatchesPublishedCheckValues) {
  std::string digits = "123456789";
  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
  std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<unsigned char>(i);
    down[i] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), down.size()), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, MaskRotatesAndAddsTheTfRecordConstant) {
  std::string digits = "123456789";
  uint32_t crc = 0xE3069283u;
  EXPECT_EQ(maskedCrc32c(digits.data(), digits.size()),
            ((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
}

} // namespace
} // namespace pgc
