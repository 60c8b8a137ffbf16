// libFuzzer target: the artifact loader must reject any byte string cleanly or return a valid plan.
#include "runtime/artifact/Plan.h"
#include "runtime/support/Error.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
  return 0;
}
