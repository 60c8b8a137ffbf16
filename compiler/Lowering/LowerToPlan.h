// Lowering of a pg module to the runtime's Plan: one entry point per function, one buffer per value.
#pragma once

#include "runtime/artifact/Plan.h"

#include "mlir/IR/BuiltinOps.h"

namespace pgc::compiler {

/// Lowers every func.func of `module` to an entry point of the same name.
/// Function arguments become input buffers and results output buffers,
/// named by their `pg.name` attributes; each pg.param becomes one parameter
/// buffer shared by every entry point; constants are embedded. Steps follow
/// the ops' order in the function body, which is a valid execution order.
/// Fails with a pgc::Error naming the op's location if an op cannot lower.
Plan lowerToPlan(mlir::ModuleOp module);

} // namespace pgc::compiler
