// libFuzzer target: any bytes as a peft adapter_config.json, read as
// `--adapter` reads it, either fail with pgc::Error or give r >= 1 and a
// finite lora_alpha.
#include "runtime/support/Error.h"
#include "runtime/train/AdapterConfig.h"

#include <cmath>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    pgc::train::AdapterConfig config = pgc::train::parseAdapterConfig(
        std::string_view(reinterpret_cast<const char *>(data), size), "fuzz");
    if (config.r < 1 || !std::isfinite(config.alpha))
      std::abort();
  } catch (const pgc::Error &) {
  }
  return 0;
}
