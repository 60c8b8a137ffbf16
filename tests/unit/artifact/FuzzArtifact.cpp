// libFuzzer target: the artifact loader must reject any byte string cleanly or
// return a valid plan, with no undefined behaviour (UBSan is fatal here), from
// a buffer aligned as readArtifact's file buffer is and from a misaligned one,
// which the loader must handle too.
#include "runtime/artifact/Plan.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

static void parseOnce(const uint8_t *data, size_t size) {
  try {
    pgc::Plan plan = pgc::parseArtifact(data, size, "fuzz");
    // A plan that loads must survive validation again and a round trip.
    plan.validate("fuzz");
    std::string bytes = pgc::serializePlan(plan);
    pgc::Plan again = pgc::parseArtifact(bytes.data(), bytes.size(), "again");
    if (again.buffers.size() != plan.buffers.size())
      std::abort();
  } catch (const pgc::Error &) {
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // readArtifact's buffer: a std::vector<char> from operator new, so aligned
  // at least to 16 bytes, as libFuzzer's copy of the input is.
  std::vector<uint64_t> aligned((size + 7) / 8 + 1);
  std::memcpy(aligned.data(), data, size);
  parseOnce(reinterpret_cast<const uint8_t *>(aligned.data()), size);
  // The same bytes one byte off alignment.
  std::memcpy(reinterpret_cast<uint8_t *>(aligned.data()) + 1, data, size);
  parseOnce(reinterpret_cast<const uint8_t *>(aligned.data()) + 1, size);
  return 0;
}
