// Estimated floating-point work of pg ops, for pass reports (not for scheduling).
#pragma once

#include "mlir/IR/Operation.h"

#include <cstdint>

namespace mlir::pg {

/// Multiply-adds count two; elementwise ops one per result element;
/// composite ops a small per-element constant. Shape ops cost nothing.
int64_t estimateFlops(Operation *op);

} // namespace mlir::pg
