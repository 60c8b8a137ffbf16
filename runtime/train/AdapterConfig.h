// peft's adapter_config.json as `--adapter` reads it: the LoRA settings that
// must match the artifact's. Apart from Adapters.cpp so that its fuzz target
// builds without a Session.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgc::train {

/// The fields pgc checks; peft's other keys are ignored.
struct AdapterConfig {
  int64_t r = 0;       ///< >= 1
  double alpha = 0;    ///< finite
  bool rslora = false; ///< use_rslora, false when absent
};

/// Parses adapter_config.json's text: an object with peft_type "LORA" (or
/// none), an integer r >= 1, a finite number lora_alpha and, if present, a
/// boolean use_rslora. Throws pgc::Error "<what>: ..." otherwise.
AdapterConfig parseAdapterConfig(std::string_view text,
                                 const std::string &what);

} // namespace pgc::train
