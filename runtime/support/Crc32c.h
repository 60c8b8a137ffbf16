// CRC-32C (Castagnoli), as TFRecord framing (TensorBoard event files) needs:
// no Debian package provides it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgc {

/// CRC-32C of `size` bytes (reflected polynomial 0x82F63B78, initial and
/// final XOR 0xFFFFFFFF), e.g. 0xE3069283 for "123456789".
uint32_t crc32c(const void *data, size_t size);

/// TFRecord's masked CRC: rotate right by 15, add 0xA282EAD8.
uint32_t maskedCrc32c(const void *data, size_t size);

} // namespace pgc
