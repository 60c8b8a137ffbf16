// pg-eval-mode: an evaluation function without dropout, as torch's
// model.eval().
#include "passes/Passes.h"
#include "runtime/artifact/TrainingContract.h"

#include "llvm/ADT/BitVector.h"

namespace mlir::pg {

#define GEN_PASS_DEF_PGEVALMODE
#include "passes/Passes.h.inc"

namespace {

struct EvalModePass : impl::PgEvalModeBase<EvalModePass> {
  using PgEvalModeBase::PgEvalModeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func) {
      module.emitError("pg-eval-mode: no function '") << function << "'";
      return signalPassFailure();
    }
    func.walk([](DropoutOp dropout) {
      dropout.getResult().replaceAllUsesWith(dropout.getInput());
      dropout.erase();
    });
    // The key feeds nothing now; an argument the caller must still pass
    // would only invite a wrong one.
    llvm::BitVector unused(func.getNumArguments());
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, "pg.name"))
        if (name.getValue() == pgc::contract::kDropoutKey &&
            func.getArgument(i).use_empty())
          unused.set(i);
    func.eraseArguments(unused);
  }
};

} // namespace
} // namespace mlir::pg
