// libFuzzer target: any bytes either fail validation with pgc::Error or yield
// tensors that tile the data area of the input exactly, as Hugging Face's
// safetensors requires.
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pgc::SafetensorsLayout layout;
  try {
    layout = pgc::parseSafetensors("fuzz-input", data, size);
  } catch (const pgc::Error &) {
    return 0;
  }
  // Touch every byte each tensor claims, so that AddressSanitizer reports a
  // range the validation let through past the end of the input.
  uint8_t sum = 0;
  uint64_t previousEnd = 0;
  for (const pgc::TensorInfo &info : layout.tensors) {
    if (info.begin > info.end || layout.dataOffset + info.end > size)
      std::abort();
    // In file order, each tensor begins where the previous one ends.
    if (info.begin != previousEnd)
      std::abort();
    previousEnd = info.end;
    for (uint64_t i = info.begin; i < info.end; ++i)
      sum ^= data[layout.dataOffset + i];
    if (info.loadable)
      pgc::numElements(info.shape); // must not throw after validation
  }
  if (layout.dataOffset + previousEnd != size)
    std::abort();
  // Keeps the reads from being optimised out.
  static volatile uint8_t sink;
  sink = sum;
  return 0;
}
