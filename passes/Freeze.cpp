// pg-freeze: a policy decides which parameters train; backward work nobody needs is removed.
#include "compiler/Policy/Policy.h"
#include "passes/CostModel.h"
#include "passes/Passes.h"
#include "runtime/support/Error.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::pg {

#define GEN_PASS_DEF_PGFREEZE
#include "passes/Passes.h.inc"

namespace {

struct BackwardCost {
  int64_t ops = 0;
  int64_t flops = 0;
};

using CostByModule = llvm::MapVector<StringRef, BackwardCost>;

CostByModule measureBackward(func::FuncOp func) {
  CostByModule costs;
  func.walk([&](Operation *op) {
    if (!op->hasAttr("pg.backward"))
      return;
    StringRef module = "(other)";
    if (auto name = op->getAttrOfType<StringAttr>("pg.module"))
      module = name.getValue();
    BackwardCost &cost = costs[module];
    ++cost.ops;
    cost.flops += estimateFlops(op);
  });
  return costs;
}

std::string megaflops(int64_t flops) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(flops) / 1e6);
  return text;
}

struct FreezePass : impl::PgFreezeBase<FreezePass> {
  using PgFreezeBase::PgFreezeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!policy.empty() && failed(applyPolicy(module)))
      return signalPassFailure();
    auto train = module.lookupSymbol<func::FuncOp>(function);
    if (!train)
      return; // Nothing to prune: marking parameters was the whole job.
    CostByModule before = measureBackward(train);
    dropFrozenGradients(train);
    eraseDeadOps(train);
    CostByModule after = measureBackward(train);
    for (auto &[name, cost] : before) {
      BackwardCost now = after.lookup(name);
      mlir::emitRemark(train.getLoc()) << "pg-freeze: " << name << ": backward ops "
                         << cost.ops << " -> " << now.ops
                         << ", backward MFLOP " << megaflops(cost.flops)
                         << " -> " << megaflops(now.flops);
    }
  }

  LogicalResult applyPolicy(ModuleOp module) {
    pgc::Policy rules;
    try {
      rules = pgc::Policy::fromYamlFile(policy);
    } catch (const pgc::Error &e) {
      return module.emitError("pg-freeze: ") << e.what();
    }
    MLIRContext *context = &getContext();
    module.walk([&](ParamOp param) {
      bool trainable = isa<RankedTensorType>(param.getType()) &&
                       rules.isTrainable(param.getName().str());
      param.setTrainableAttr(trainable ? UnitAttr::get(context) : UnitAttr());
    });
    return success();
  }

  // Removes grad.<name> results of parameters that do not train.
  void dropFrozenGradients(func::FuncOp train) {
    DenseMap<StringRef, bool> trainable;
    train.walk([&](ParamOp param) {
      trainable[param.getName()] = param.getTrainable();
    });
    auto ret = cast<func::ReturnOp>(train.getBody().front().getTerminator());
    SmallVector<Value> results;
    SmallVector<Type> types;
    SmallVector<Attribute> attrs;
    for (unsigned i = 0; i < train.getNumResults(); ++i) {
      auto name = train.getResultAttrOfType<StringAttr>(i, "pg.name");
      if (name && name.getValue().starts_with("grad.") &&
          !trainable.lookup(name.getValue().drop_front(5)))
        continue;
      results.push_back(ret.getOperand(i));
      types.push_back(train.getResultTypes()[i]);
      attrs.push_back(train.getResultAttrDict(i)
                          ? Attribute(train.getResultAttrDict(i))
                          : Attribute(DictionaryAttr::get(&getContext())));
    }
    OpBuilder builder(ret);
    builder.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    train.setFunctionType(
        builder.getFunctionType(train.getArgumentTypes(), types));
    train.setAllResultAttrs(attrs);
  }

  // Erases side-effect-free ops without uses, last to first, so that a whole
  // chain whose only consumer went away disappears in one sweep.
  void eraseDeadOps(func::FuncOp train) {
    Block &body = train.getBody().front();
    SmallVector<Operation *> ops;
    for (Operation &op : body)
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops))
      if (op->use_empty() && isMemoryEffectFree(op) &&
          !op->hasTrait<OpTrait::IsTerminator>())
        op->erase();
  }
};

} // namespace
} // namespace mlir::pg
