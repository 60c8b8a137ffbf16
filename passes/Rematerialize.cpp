// pg-rematerialize: an NF4 dequantization or a widening cast is made again
// next to a use far from its last one, instead of its result being kept
// alive in between.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <algorithm>

namespace mlir::pg {

#define GEN_PASS_DEF_PGREMATERIALIZE
#include "passes/Passes.h.inc"

namespace {

unsigned elementBits(Type type) {
  return cast<RankedTensorType>(type).getElementType().getIntOrFloatBitWidth();
}

/// Ops whose result is cheap to make again from a smaller operand: keeping
/// the operand alive instead costs less memory than keeping the result.
bool isRematerializable(Operation &op) {
  if (isa<DequantNF4Op>(op))
    return true;
  if (auto castOp = dyn_cast<CastOp>(op))
    return elementBits(castOp.getInput().getType()) <
           elementBits(castOp.getResult().getType());
  return false;
}

struct RematerializePass : impl::PgRematerializeBase<RematerializePass> {
  using PgRematerializeBase::PgRematerializeBase;

  void runOnOperation() override {
    if (maxDistance < 0) {
      getOperation().emitError(
          "pg-rematerialize: max-distance must be >= 0, got ")
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
    SmallVector<Operation *> candidates;
    int64_t index = 0;
    for (Operation &op : block) {
      position[&op] = index++;
      if (isRematerializable(op))
        candidates.push_back(&op);
    }
    for (Operation *op : candidates) {
      SmallVector<std::pair<int64_t, OpOperand *>> uses;
      for (OpOperand &use : op->getUses())
        uses.push_back(
            {position.lookup(block.findAncestorOpInBlock(*use.getOwner())),
             &use});
      llvm::stable_sort(
          uses, [](const auto &a, const auto &b) { return a.first < b.first; });
      Value current = op->getResult(0);
      int64_t last = position.lookup(op);
      for (auto [at, use] : uses) {
        if (at - last > static_cast<int64_t>(maxDistance)) {
          OpBuilder builder(block.findAncestorOpInBlock(*use->getOwner()));
          current = builder.clone(*op)->getResult(0);
          ++numRematerialized;
        }
        use->set(current);
        last = at;
      }
      if (op->use_empty())
        op->erase();
    }
  }
};

} // namespace
} // namespace mlir::pg
