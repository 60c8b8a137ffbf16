// libFuzzer target: the JPEG decoder must turn any input into an image or a
// pgc::Error, never a crash or a leak.
#include "runtime/data/Image.h"
#include "runtime/support/Error.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pgc::ImageDecodeLimits limits;
  limits.maxPixels = 1 << 20; // keeps fuzzed headers from allocating gigabytes
  try {
    pgc::decodeJpeg(data, size, "fuzz.jpg", limits);
  } catch (const pgc::Error &) {
  }
  return 0;
}
