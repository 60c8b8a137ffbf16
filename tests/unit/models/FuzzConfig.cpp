// libFuzzer target: any bytes as a Hugging Face PaliGemma config.json either
// fail with pgc::Error or give a configuration whose sizes are usable (the
// checks parsePaliGemmaConfig promises), with no undefined behaviour.
#include "models/paligemma/Config.h"
#include "runtime/support/Error.h"

#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    pgc::models::PaliGemmaConfig config = pgc::models::parsePaliGemmaConfig(
        std::string(reinterpret_cast<const char *>(data), size), "fuzz");
    if (config.numImageTokens() <= 0 || config.vision.hiddenSize <= 0 ||
        config.text.hiddenSize <= 0 || config.text.vocabSize <= 0)
      std::abort(); // accepted sizes a model cannot be built with
  } catch (const pgc::Error &) {
  }
  return 0;
}
