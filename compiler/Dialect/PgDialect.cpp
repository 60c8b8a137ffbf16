// Registration of the pg dialect's ops and types.
#include "compiler/Dialect/Pg.h"

using namespace mlir;
using namespace mlir::pg;

#include "compiler/Dialect/PgDialect.cpp.inc"

void PgDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "compiler/Dialect/PgOps.cpp.inc"
      >();
  registerTypes();
}
