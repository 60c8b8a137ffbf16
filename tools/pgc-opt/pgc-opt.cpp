// pgc-opt: runs pg passes over .mlir files, the way lit tests and pass authors use it.
#include "compiler/Dialect/Pg.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::pg::PgDialect, mlir::func::FuncDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::pg::registerPgPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "pg optimizer driver\n", registry));
}
