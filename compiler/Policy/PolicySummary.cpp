// Counting parameters, LoRA modules and NF4 bytes of a pg module for `pgc
// compile`'s policy report.
#include "compiler/Policy/PolicySummary.h"

#include "compiler/Dialect/Pg.h"
#include "compiler/Policy/Policy.h"
#include "runtime/exec/Nf4Storage.h"

#include "llvm/ADT/StringSet.h"

#include <fmt/format.h>

namespace pgc {

namespace {

std::string grouped(int64_t value) {
  std::string digits = std::to_string(value), text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      text += ',';
    text += digits[i];
  }
  return text;
}

std::string megabytes(int64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

} // namespace

ParameterSummary summarizeParameters(mlir::ModuleOp module) {
  ParameterSummary summary;
  llvm::StringSet<> seen;
  module.walk([&](mlir::pg::ParamOp param) {
    if (!seen.insert(param.getName()).second)
      return;
    std::string name = param.getName().str();
    int64_t count = 0;
    if (auto nf4 = llvm::dyn_cast<mlir::pg::NF4Type>(param.getType())) {
      count = nf4.getNumElements();
      Nf4Layout layout{count, nf4.getBlockSize(), nf4.getDoubleQuant()};
      ++summary.nf4Weights;
      summary.nf4Elements += count;
      summary.nf4PackedBytes += layout.packedBytes();
      summary.nf4AbsmaxBytes += layout.totalBytes() - layout.statsOffset();
    } else {
      auto type = llvm::cast<mlir::RankedTensorType>(param.getType());
      count = type.getNumElements();
      summary.otherBytes += count * ((type.getElementTypeBitWidth() + 7) / 8);
    }
    summary.all += count;
    if (param.getTrainable())
      summary.trainable += count;
    if (llvm::StringRef(name).ends_with(".lora_A.weight"))
      ++summary.loraModules[name.substr(0, name.find('.'))];
  });
  return summary;
}

std::string formatParameterSummary(const ParameterSummary &s) {
  std::string text = fmt::format(
      "trainable params: {} || all params: {} || trainable%: {:.4f}\n",
      grouped(s.trainable), grouped(s.all),
      s.all ? 100.0 * static_cast<double>(s.trainable) /
                  static_cast<double>(s.all)
            : 0.0);
  int64_t lora = 0;
  std::string parts;
  for (const auto &[top, count] : s.loraModules) {
    lora += count;
    parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", top, count);
  }
  if (lora)
    text += fmt::format("lora modules: {} ({})\n", lora, parts);
  if (s.nf4Weights)
    text += fmt::format(
        "nf4 weights: {} ({} elements): {} packed + {} absmax = {} (bf16: "
        "{})\n",
        s.nf4Weights, grouped(s.nf4Elements), megabytes(s.nf4PackedBytes),
        megabytes(s.nf4AbsmaxBytes),
        megabytes(s.nf4PackedBytes + s.nf4AbsmaxBytes),
        megabytes(2 * s.nf4Elements));
  text += fmt::format(
      "parameter memory: {} ({} nf4 + {} other parameters)\n",
      megabytes(s.nf4PackedBytes + s.nf4AbsmaxBytes + s.otherBytes),
      megabytes(s.nf4PackedBytes + s.nf4AbsmaxBytes), megabytes(s.otherBytes));
  return text;
}

} // namespace pgc
