// The pg dialect's C++ interface: the dialect, its NF4 type, enums and ops.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "compiler/Dialect/PgDialect.h.inc"
#include "compiler/Dialect/PgEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "compiler/Dialect/PgTypes.h.inc"

#define GET_OP_CLASSES
#include "compiler/Dialect/PgOps.h.inc"

namespace mlir::pg {
/// Whether pg-fuse may put `op` into a pg.fusion: an elementwise op whose
/// operands and result share one shape, or a broadcast of one element.
bool isFusibleElementwise(Operation *op);
} // namespace mlir::pg
