// A readable summary of a pg module: functions, named inputs and results, parameters and op counts.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace pgc::compiler {

/// Multi-line text such as
///   func forward: 2 inputs, 2 results, 4 parameters (676 values), 11 ops
///     inputs:  x f32[4, 16], y f32[4, 4]
///     ops:     pg.matmul 2, pg.add 3, ...
std::string summarizeModule(mlir::ModuleOp module);

} // namespace pgc::compiler
