// The parameter table `pgc compile --print-params` prints: name patterns,
// shapes, counts, trainable or frozen.
#pragma once

#include "runtime/support/Shape.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace pgc::models {

/// Parameters that differ only in their layer indices
/// (language_model.model.layers.*.mlp.gate_proj.weight).
struct ParameterGroup {
  std::string pattern;
  Shape shape;
  int64_t instances = 0;
  int64_t trainableInstances = 0;
  int64_t elementsEach = 0;
};

/// The module's pg.param ops grouped by pattern and shape, in first-use order.
/// A parameter used by several functions (or twice, as a tied weight) is
/// counted once.
std::vector<ParameterGroup> groupParameters(mlir::ModuleOp module);

/// One row per group and a totals line, with thousands separators.
std::string formatParameterTable(const std::vector<ParameterGroup> &groups);

/// 2923466480 -> "2,923,466,480".
std::string withThousandsSeparators(int64_t value);

} // namespace pgc::models
