// libFuzzer target: any bytes as pgc's settings file (pgc_data.json, or
// tokenizer.json in older folders) either fail with pgc::Error or give
// settings the processor can use: a non-negative <image> id, a prompt
// template with {question}, non-empty column names.
#include "runtime/data/DataSettings.h"
#include "runtime/support/Error.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    pgc::DataSettings settings = pgc::parseDataSettings(
        std::string_view(reinterpret_cast<const char *>(data), size), "fuzz");
    if ((settings.imageTokenId && *settings.imageTokenId < 0) ||
        (settings.promptTemplate &&
         settings.promptTemplate->find("{question}") == std::string::npos))
      std::abort();
    for (const auto *column : {&settings.questionColumn, &settings.answerColumn,
                               &settings.answersColumn})
      if (*column && (*column)->empty())
        std::abort();
  } catch (const pgc::Error &) {
  }
  return 0;
}
