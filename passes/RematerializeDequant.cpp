// pg-rematerialize-dequant: a dequantized NF4 weight is made again next to a
// use far from its last one, instead of being kept alive in between.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <algorithm>

namespace mlir::pg {

#define GEN_PASS_DEF_PGREMATERIALIZEDEQUANT
#include "passes/Passes.h.inc"

namespace {

struct RematerializeDequantPass
    : impl::PgRematerializeDequantBase<RematerializeDequantPass> {
  using PgRematerializeDequantBase::PgRematerializeDequantBase;

  void runOnOperation() override {
    if (maxDistance < 0) {
      getOperation().emitError("pg-rematerialize-dequant: max-distance must "
                               "be >= 0, got ")
          << static_cast<int64_t>(maxDistance);
      return signalPassFailure();
    }
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal())
        rematerialize(func.getBody().front());
  }

  void rematerialize(Block &block) {
    // Distances count ops of the function's block; a use nested in a region
    // (a pg.fusion) counts at the position of its op in the block.
    DenseMap<Operation *, int64_t> position;
    SmallVector<DequantNF4Op> dequants;
    int64_t index = 0;
    for (Operation &op : block) {
      position[&op] = index++;
      if (auto dequant = dyn_cast<DequantNF4Op>(op))
        dequants.push_back(dequant);
    }
    for (DequantNF4Op dequant : dequants) {
      SmallVector<std::pair<int64_t, OpOperand *>> uses;
      for (OpOperand &use : dequant->getUses()) {
        Operation *user = block.findAncestorOpInBlock(*use.getOwner());
        uses.push_back({position.lookup(user), &use});
      }
      llvm::stable_sort(
          uses, [](const auto &a, const auto &b) { return a.first < b.first; });
      Value current = dequant.getResult();
      int64_t last = position.lookup(dequant);
      for (auto [at, use] : uses) {
        if (at - last > static_cast<int64_t>(maxDistance)) {
          OpBuilder builder(block.findAncestorOpInBlock(*use->getOwner()));
          current = builder.clone(*dequant)->getResult(0);
          ++numRematerialized;
        }
        use->set(current);
        last = at;
      }
      if (dequant->use_empty())
        dequant->erase();
    }
  }
};

} // namespace
} // namespace mlir::pg
