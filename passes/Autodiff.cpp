// pg-autodiff: reverse-mode differentiation of a loss function into a training function.
#include "passes/Passes.h"
#include "passes/VjpRules.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::pg {

#define GEN_PASS_DEF_PGAUTODIFF
#include "passes/Passes.h.inc"

namespace {

StringRef topLevelModule(StringRef paramName) {
  return paramName.split('.').first;
}

// Each forward op is attributed to the top-level module of the parameters it
// uses directly, else to that of its latest-defined operand, so that the
// backward ops it spawns can be reported per module.
DenseMap<Operation *, StringRef> attributeModules(func::FuncOp func) {
  DenseMap<Operation *, StringRef> modules;
  for (Operation &op : func.getBody().front()) {
    if (auto param = dyn_cast<ParamOp>(op)) {
      modules[&op] = topLevelModule(param.getName());
      continue;
    }
    StringRef module;
    for (Value operand : op.getOperands())
      if (Operation *def = operand.getDefiningOp())
        if (auto it = modules.find(def); it != modules.end()) {
          if (isa<ParamOp>(def)) {
            module = it->second;
            break;
          }
          module = it->second;
        }
    if (!module.empty())
      modules[&op] = module;
  }
  return modules;
}

struct AutodiffPass : impl::PgAutodiffBase<AutodiffPass> {
  using PgAutodiffBase::PgAutodiffBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto source = module.lookupSymbol<func::FuncOp>(function);
    if (!source) {
      module.emitError("pg-autodiff: no function '") << function << "'";
      return signalPassFailure();
    }
    if (module.lookupSymbol(output)) {
      source.emitError("pg-autodiff: a symbol named '")
          << output << "' already exists";
      return signalPassFailure();
    }
    if (failed(differentiate(source)))
      signalPassFailure();
  }

  LogicalResult differentiate(func::FuncOp source) {
    int lossIndex = -1;
    for (unsigned i = 0; i < source.getNumResults(); ++i)
      if (auto name = source.getResultAttrOfType<StringAttr>(i, "pg.name"))
        if (name.getValue() == lossName)
          lossIndex = static_cast<int>(i);
    if (lossIndex < 0)
      return source.emitError("pg-autodiff: function has no result named '")
             << lossName << "'";
    auto lossType =
        dyn_cast<RankedTensorType>(source.getResultTypes()[lossIndex]);
    if (!lossType || lossType.getRank() != 0 ||
        !isa<FloatType>(lossType.getElementType()))
      return source.emitError("pg-autodiff: result '")
             << lossName << "' must be a rank-0 float tensor";

    OpBuilder builder(source);
    builder.setInsertionPointAfter(source);
    auto train = cast<func::FuncOp>(builder.clone(*source));
    train.setName(output);
    Block &body = train.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value loss = ret.getOperand(lossIndex);
    DenseMap<Operation *, StringRef> modules = attributeModules(train);

    // Parameters whose gradients are returned, in program order.
    SmallVector<ParamOp> params;
    for (ParamOp param : body.getOps<ParamOp>())
      if (isa<RankedTensorType>(param.getType()) &&
          (!trainableOnly || param.getTrainable()))
        params.push_back(param);

    // Active values depend on a differentiated parameter; only they get
    // gradients.
    llvm::DenseSet<Value> active;
    for (ParamOp param : params)
      active.insert(param.getResult());
    for (Operation &op : body)
      if (llvm::any_of(op.getOperands(),
                       [&](Value v) { return active.contains(v); }))
        for (Value result : op.getResults())
          if (isa<FloatType>(
                  cast<RankedTensorType>(result.getType()).getElementType()))
            active.insert(result);

    DenseMap<Value, Value> adjoints;
    builder.setInsertionPoint(ret);
    VjpBuilder vjp(builder, loss.getLoc());
    MLIRContext *context = &getContext();
    auto tag = [&](Operation *forward, Operation *backward) {
      backward->setAttr("pg.backward", UnitAttr::get(context));
      if (auto it = modules.find(forward); it != modules.end())
        backward->setAttr("pg.module", StringAttr::get(context, it->second));
    };
    Operation *lastBeforeBackward = ret->getPrevNode();
    adjoints[loss] = vjp.splat(lossType, 1.0);
    if (Operation *lossOp = loss.getDefiningOp())
      tag(lossOp, adjoints[loss].getDefiningOp());
    else
      adjoints[loss].getDefiningOp()->setAttr("pg.backward",
                                              UnitAttr::get(context));

    SmallVector<Operation *> forwardOps;
    for (Operation &op : body)
      if (&op != ret.getOperation())
        forwardOps.push_back(&op);
    for (Operation *op : llvm::reverse(forwardOps)) {
      if (op->isBeforeInBlock(lastBeforeBackward) ||
          op == lastBeforeBackward) {
        SmallVector<Value> resultGrads;
        bool any = false;
        for (Value result : op->getResults()) {
          resultGrads.push_back(adjoints.lookup(result));
          any |= static_cast<bool>(resultGrads.back());
        }
        if (!any)
          continue;
        SmallVector<bool> needed;
        bool anyNeeded = false;
        for (Value operand : op->getOperands()) {
          needed.push_back(active.contains(operand));
          anyNeeded |= needed.back();
        }
        if (!anyNeeded)
          continue;
        Operation *before = &*std::prev(builder.getInsertionPoint());
        // Results without a gradient contribute zeros to multi-result ops.
        for (unsigned i = 0; i < resultGrads.size(); ++i)
          if (!resultGrads[i])
            resultGrads[i] =
                vjp.zeros(cast<RankedTensorType>(op->getResult(i).getType()));
        FailureOr<SmallVector<Value>> grads =
            vjp.vjp(op, resultGrads, needed);
        if (failed(grads))
          return failure();
        for (auto [operand, grad] : llvm::zip(op->getOperands(), *grads)) {
          if (!grad)
            continue;
          Value &slot = adjoints[operand];
          slot = slot ? Value(builder.create<AddOp>(loss.getLoc(), slot, grad))
                      : grad;
        }
        // Tag everything this rule emitted.
        for (Operation *emitted = before->getNextNode();
             emitted && emitted != ret.getOperation();
             emitted = emitted->getNextNode())
          if (!emitted->hasAttr("pg.backward"))
            tag(op, emitted);
      }
    }

    SmallVector<Value> results(ret.getOperands());
    SmallVector<Type> resultTypes(train.getResultTypes());
    SmallVector<Attribute> resultAttrs;
    for (unsigned i = 0; i < train.getNumResults(); ++i)
      resultAttrs.push_back(train.getResultAttrDict(i)
                                ? Attribute(train.getResultAttrDict(i))
                                : Attribute(DictionaryAttr::get(context)));
    for (ParamOp param : params) {
      Value grad = adjoints.lookup(param.getResult());
      auto type = cast<RankedTensorType>(param.getType());
      if (!grad) {
        // Not on any path to the loss: its gradient is zero.
        grad = vjp.zeros(type);
        grad.getDefiningOp()->setAttr("pg.backward", UnitAttr::get(context));
      }
      results.push_back(grad);
      resultTypes.push_back(type);
      resultAttrs.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
          "pg.name", builder.getStringAttr("grad." + param.getName().str()))));
    }
    builder.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    train.setFunctionType(
        builder.getFunctionType(train.getArgumentTypes(), resultTypes));
    train.setAllResultAttrs(resultAttrs);
    return success();
  }
};

} // namespace
} // namespace mlir::pg
