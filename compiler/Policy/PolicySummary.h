// What a policy did to a pg module: peft-style parameter counts, LoRA modules
// and NF4 parameter memory.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>

namespace pgc {

struct ParameterSummary {
  int64_t all = 0;       // elements of every distinct parameter (nf4: logical)
  int64_t trainable = 0; // elements of the trainable ones
  std::map<std::string, int64_t> loraModules; // by first name component
  int64_t nf4Weights = 0, nf4Elements = 0;
  int64_t nf4PackedBytes = 0, nf4AbsmaxBytes = 0; // as Nf4Storage.h lays out
  int64_t otherBytes = 0; // non-nf4 parameters at their dtype
};

/// Counts each parameter name once, as it is declared first in the module.
ParameterSummary summarizeParameters(mlir::ModuleOp module);

/// "trainable params: 11,298,816 || all params: 2,934,765,296 ||
/// trainable%: 0.3850" (peft's print_trainable_parameters) and lines for the
/// LoRA modules and the parameter memory (NF4 packed + absmax vs bf16).
std::string formatParameterSummary(const ParameterSummary &summary);

} // namespace pgc
