// A fuzz target with undefined behaviour planted on purpose: an input that
// starts with "PLANTED-UB" overflows a signed int. Built with the same flags
// as every pgc fuzz target, it shows that a UBSan report fails a fuzz run
// (tests/fuzz/expect-planted-ub.sh), which it did not while UBSan recovered.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char kTrigger[] = "PLANTED-UB";
  if (size > sizeof(kTrigger) &&
      std::memcmp(data, kTrigger, sizeof(kTrigger) - 1) == 0) {
    volatile int value = INT_MAX;
    int increment = data[sizeof(kTrigger) - 1] | 1;
    value = value + increment; // signed overflow: undefined behaviour
    return value == 0;
  }
  return 0;
}
