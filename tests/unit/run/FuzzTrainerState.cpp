// libFuzzer target: any bytes as a checkpoint's trainer_state.json, read as
// `pgc run --resume` reads it, either fail with pgc::Error or give a state
// whose counts and positions are usable (non-negative, finite).
#include "runtime/support/Error.h"
#include "runtime/train/CheckpointStore.h"

#include <cmath>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    pgc::train::RunState state = pgc::train::parseRunState(
        std::string_view(reinterpret_cast<const char *>(data), size), "fuzz");
    if (state.step < 0 || state.microBatches < 0 || state.loader.epoch < 0 ||
        state.loader.batchIndex < 0 || !std::isfinite(state.epoch) ||
        !std::isfinite(state.initStd) || state.initStd < 0)
      std::abort();
  } catch (const pgc::Error &) {
  }
  return 0;
}
