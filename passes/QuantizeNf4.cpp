// pg-quantize-nf4: frozen linear weights a policy targets become NF4 storage
// dequantized in front of their matmuls.
#include "compiler/Policy/Policy.h"
#include "passes/Passes.h"
#include "runtime/support/Error.h"

#include "llvm/ADT/StringSet.h"

namespace mlir::pg {

#define GEN_PASS_DEF_PGQUANTIZENF4
#include "passes/Passes.h.inc"

namespace {

StringRef moduleOf(StringRef parameterName) {
  auto [module, leaf] = parameterName.rsplit('.');
  return leaf.empty() ? StringRef() : module;
}

Type computeType(StringRef spelling, Type weightElement, MLIRContext *context) {
  if (spelling == "bf16")
    return BFloat16Type::get(context);
  if (spelling == "f16")
    return Float16Type::get(context);
  if (spelling == "f32")
    return Float32Type::get(context);
  return weightElement; // "auto"
}

struct QuantizeNf4Pass : impl::PgQuantizeNf4Base<QuantizeNf4Pass> {
  using PgQuantizeNf4Base::PgQuantizeNf4Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (policy.empty()) {
      module.emitError("pg-quantize-nf4: needs policy=FILE");
      return signalPassFailure();
    }
    pgc::Policy rules;
    try {
      rules = pgc::Policy::fromYamlFile(policy);
    } catch (const pgc::Error &e) {
      module.emitError("pg-quantize-nf4: ") << e.what();
      return signalPassFailure();
    }
    if (!rules.quantize())
      return; // The policy quantizes nothing.
    const pgc::QuantizePolicy &quantize = *rules.quantize();
    llvm::StringSet<> matchedTargets;
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(quantizeFunction(func, rules, quantize, matchedTargets)))
        return signalPassFailure();
    for (const std::string &target : quantize.nf4)
      if (!matchedTargets.contains(target))
        module.emitWarning("pg-quantize-nf4: ")
            << policy << ": nf4 target '" << target
            << "' matches no linear weight";
  }

  LogicalResult quantizeFunction(func::FuncOp func, const pgc::Policy &rules,
                                 const pgc::QuantizePolicy &quantize,
                                 llvm::StringSet<> &matchedTargets) {
    SmallVector<ParamOp> params(func.getBody().front().getOps<ParamOp>());
    for (ParamOp param : params) {
      StringRef name = param.getName();
      StringRef module = moduleOf(name);
      auto type = dyn_cast<RankedTensorType>(param.getType());
      // Only `<module>.weight` of a selected module: its bias, norms and the
      // adapters stay as they are.
      if (!type || module.empty() || !name.ends_with(".weight") ||
          pgc::isLoraAdapterName(name.str()) || !quantize.selects(module.str()))
        continue;
      for (const std::string &target : quantize.nf4)
        if (pgc::moduleTargetMatches(target, module.str()))
          matchedTargets.insert(target);
      SmallVector<MatmulOp> matmuls;
      for (Operation *user : param->getUsers()) {
        auto matmul = dyn_cast<MatmulOp>(user);
        if (!matmul || matmul.getRhs() != param.getResult() ||
            !matmul.getTransposeRhs() || matmul.getTransposeLhs() ||
            type.getRank() != 2)
          return param.emitError("pg-quantize-nf4: ")
                 << "nf4 target '" << name
                 << "' is not a linear weight (every use must be the "
                    "transposed rhs of a matmul; a tied embedding is not)";
        matmuls.push_back(matmul);
      }
      if (param.getTrainable() || rules.isTrainable(name.str()))
        return param.emitError("pg-quantize-nf4: ")
               << "nf4 target '" << name
               << "' is trainable; NF4 weights are frozen (freeze it, or "
                  "train it through LoRA)";
      replace(param, type, quantize, matmuls);
    }
    return success();
  }

  void replace(ParamOp param, RankedTensorType type,
               const pgc::QuantizePolicy &quantize,
               ArrayRef<MatmulOp> matmuls) {
    MLIRContext *context = &getContext();
    auto nf4 = NF4Type::get(context, type.getShape(), quantize.block,
                            quantize.doubleQuant);
    OpBuilder builder(param);
    auto stored = builder.create<ParamOp>(param.getLoc(), param.getNameAttr(),
                                          TypeAttr::get(nf4), UnitAttr(),
                                          param.getInitAttr());
    Type element = type.getElementType();
    Type compute = computeType(quantize.computeDtype, element, context);
    for (MatmulOp matmul : matmuls) {
      // One dequantization per use, next to it, so that the full-precision
      // weight lives only as long as its matmul (bitsandbytes dequantizes
      // per call too).
      builder.setInsertionPoint(matmul);
      Location loc = matmul.getLoc();
      Value weight = builder.create<DequantNF4Op>(loc, stored.getResult(),
                                                  TypeAttr::get(compute));
      if (compute == element) {
        matmul.getRhsMutable().assign(weight);
        continue;
      }
      // Linear4bit: x to the compute dtype, the matmul there, and the
      // result back to the input's dtype.
      Value x = matmul.getLhs();
      auto xType = cast<RankedTensorType>(x.getType());
      if (xType.getElementType() != compute)
        x = builder.create<CastOp>(loc, x, TypeAttr::get(compute));
      auto product = builder.create<MatmulOp>(loc, x, weight, UnitAttr(),
                                              builder.getUnitAttr(),
                                              matmul.getAccTypeAttr());
      Value result = builder.create<CastOp>(
          loc, product.getResult(),
          TypeAttr::get(
              cast<RankedTensorType>(matmul.getType()).getElementType()));
      matmul.getResult().replaceAllUsesWith(result);
      matmul.erase();
    }
    param.erase();
  }
};

} // namespace
} // namespace mlir::pg
