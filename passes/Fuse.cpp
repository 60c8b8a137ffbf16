// pg-fuse: runs of elementwise ops of one shape become pg.fusion kernels.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::pg {

#define GEN_PASS_DEF_PGFUSE
#include "passes/Passes.h.inc"

namespace {

ArrayRef<int64_t> resultShape(Operation *op) {
  return llvm::cast<RankedTensorType>(op->getResult(0).getType()).getShape();
}

// Ops that become no step of the plan and read no value: moving them in
// front of a run keeps every use dominated and changes no computation.
bool isHoistable(Operation *op) {
  return isa<ConstantOp, ParamOp, StateOp>(op);
}

// Wraps `run` (elementwise ops, contiguous once `hoisted` moved in front of
// it) into one pg.fusion yielding the values used after it.
void wrapRun(ArrayRef<Operation *> run, ArrayRef<Operation *> hoisted) {
  Operation *first = run.front();
  for (Operation *op : hoisted)
    op->moveBefore(first);
  llvm::SmallPtrSet<Operation *, 16> members(run.begin(), run.end());
  SmallVector<Value> escaping;
  for (Operation *op : run)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !members.contains(user);
          }))
        escaping.push_back(result);
  OpBuilder builder(first);
  SmallVector<Type> types;
  for (Value value : escaping)
    types.push_back(value.getType());
  auto fusion = builder.create<FusionOp>(first->getLoc(), types);
  Block *body = builder.createBlock(&fusion.getBody());
  for (Operation *op : run)
    op->moveBefore(body, body->end());
  builder.setInsertionPointToEnd(body);
  builder.create<YieldOp>(first->getLoc(), escaping);
  for (auto [value, result] : llvm::zip(escaping, fusion.getResults()))
    value.replaceUsesWithIf(result, [&](OpOperand &use) {
      return !fusion->isProperAncestor(use.getOwner());
    });
}

struct FusePass : impl::PgFuseBase<FusePass> {
  using PgFuseBase::PgFuseBase;

  void runOnOperation() override {
    getOperation().walk([](func::FuncOp func) {
      for (Block &block : func.getBody())
        fuseBlock(block);
    });
  }

  static void fuseBlock(Block &block) {
    SmallVector<SmallVector<Operation *>> runs;
    SmallVector<SmallVector<Operation *>> hoists;
    bool open = false;
    for (Operation &op : block) {
      if (isFusibleElementwise(&op) &&
          (!open || resultShape(&op) == resultShape(runs.back().front()))) {
        if (!open) {
          runs.emplace_back();
          hoists.emplace_back();
          open = true;
        }
        runs.back().push_back(&op);
      } else if (open && isHoistable(&op)) {
        hoists.back().push_back(&op);
      } else {
        open = isFusibleElementwise(&op);
        if (open) {
          runs.push_back({&op});
          hoists.emplace_back();
        }
      }
    }
    for (auto [run, hoisted] : llvm::zip(runs, hoists))
      wrapRun(run, hoisted);
  }
};

} // namespace
} // namespace mlir::pg
