// pg-insert-lora: peft LoRA adapters on the linear layers a policy targets.
#include "compiler/Policy/Policy.h"
#include "passes/Passes.h"
#include "runtime/artifact/TrainingContract.h"
#include "runtime/support/Error.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>
#include <cstring>
#include <set>

namespace mlir::pg {

#define GEN_PASS_DEF_PGINSERTLORA
#include "passes/Passes.h.inc"

namespace {

/// `module.weight` -> `module`; empty for a name without a dot.
StringRef moduleOf(StringRef parameterName) {
  auto [module, leaf] = parameterName.rsplit('.');
  return leaf.empty() ? StringRef() : module;
}

/// The weight of a linear layer as pg models it: a rank-2 [out, in] tensor
/// that is the transposed rhs of a matmul, directly or through dequant_nf4.
Value linearWeightOf(MatmulOp matmul) {
  if (!matmul.getTransposeRhs() || matmul.getTransposeLhs())
    return {};
  Value rhs = matmul.getRhs();
  if (auto dequant = rhs.getDefiningOp<DequantNF4Op>())
    rhs = dequant.getWeight();
  auto param = rhs.getDefiningOp<ParamOp>();
  if (!param || cast<ShapedType>(matmul.getRhs().getType()).getRank() != 2)
    return {};
  return param.getResult();
}

/// The matmuls that use `param` as a linear weight; false if anything else
/// uses it (an embedding tied to an output layer, a norm scale, ...).
bool linearUses(ParamOp param, SmallVectorImpl<MatmulOp> &matmuls) {
  for (Operation *user : param->getUsers()) {
    if (auto dequant = dyn_cast<DequantNF4Op>(user)) {
      for (Operation *inner : dequant->getUsers()) {
        auto matmul = dyn_cast<MatmulOp>(inner);
        if (!matmul || linearWeightOf(matmul) != param.getResult())
          return false;
        matmuls.push_back(matmul);
      }
      continue;
    }
    auto matmul = dyn_cast<MatmulOp>(user);
    if (!matmul || linearWeightOf(matmul) != param.getResult())
      return false;
    matmuls.push_back(matmul);
  }
  return !matmuls.empty();
}

std::string formatDouble(double value) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

struct InsertLoraPass : impl::PgInsertLoraBase<InsertLoraPass> {
  using PgInsertLoraBase::PgInsertLoraBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (policy.empty()) {
      module.emitError("pg-insert-lora: needs policy=FILE");
      return signalPassFailure();
    }
    pgc::Policy rules;
    try {
      rules = pgc::Policy::fromYamlFile(policy);
    } catch (const pgc::Error &e) {
      module.emitError("pg-insert-lora: ") << e.what();
      return signalPassFailure();
    }
    warnUnmatchedRules(module, rules);
    if (rules.lora()) {
      const pgc::LoraPolicy &lora = *rules.lora();
      for (auto func : module.getOps<func::FuncOp>())
        if (failed(insertAdapters(func, lora)))
          return signalPassFailure();
      recordSettings(module, lora);
    }
    // The policy decides every flag, so that pg-autodiff trainable-only and
    // pg-freeze see the same set: adapters train, wrapped weights freeze.
    MLIRContext *context = &getContext();
    module.walk([&](ParamOp param) {
      bool trainable = isa<RankedTensorType>(param.getType()) &&
                       rules.isTrainable(param.getName().str());
      param.setTrainableAttr(trainable ? UnitAttr::get(context) : UnitAttr());
    });
  }

  // The settings a peft adapter_config.json needs, for the lowering to carry
  // into the artifact: `pg.lora = {r, lora_alpha, lora_dropout, use_rslora,
  // target_modules}`. target_modules is what peft would match the same
  // modules with: the policy's plain names (peft's suffix rule), its regular
  // expression, or, when globs were used (which peft does not know), the
  // sorted names of the modules that got adapters.
  void recordSettings(ModuleOp module, const pgc::LoraPolicy &lora) {
    Builder builder(&getContext());
    Attribute targets;
    bool globs = llvm::any_of(lora.targets, [](const std::string &t) {
      return t.find_first_of("*?") != std::string::npos;
    });
    if (!lora.targetRegex.empty()) {
      targets = builder.getStringAttr(lora.targetRegex);
    } else if (!globs) {
      SmallVector<Attribute> names;
      for (const std::string &target : lora.targets)
        names.push_back(builder.getStringAttr(target));
      targets = builder.getArrayAttr(names);
    } else {
      std::set<std::string> adapted;
      module.walk([&](ParamOp param) {
        StringRef name = param.getName();
        if (name.ends_with(".lora_A.weight"))
          adapted.insert(name.drop_back(strlen(".lora_A.weight")).str());
      });
      SmallVector<Attribute> names;
      for (const std::string &name : adapted)
        names.push_back(builder.getStringAttr(name));
      targets = builder.getArrayAttr(names);
    }
    NamedAttribute fields[] = {
        builder.getNamedAttr("r", builder.getI64IntegerAttr(lora.r)),
        builder.getNamedAttr("lora_alpha", builder.getF64FloatAttr(lora.alpha)),
        builder.getNamedAttr("lora_dropout",
                             builder.getF64FloatAttr(lora.dropout)),
        builder.getNamedAttr("use_rslora", builder.getBoolAttr(lora.rslora)),
        builder.getNamedAttr("target_modules", targets),
    };
    module->setAttr("pg.lora", builder.getDictionaryAttr(fields));
  }

  // Freeze/train globs and LoRA targets that select nothing are likely typos
  // (or a policy written for another model): say so, but go on.
  void warnUnmatchedRules(ModuleOp module, const pgc::Policy &rules) {
    llvm::StringSet<> names, modules;
    module.walk([&](ParamOp param) {
      names.insert(param.getName());
      modules.insert(moduleOf(param.getName()));
    });
    for (const pgc::Policy::Rule &rule : rules.rules()) {
      bool any = llvm::any_of(names.keys(), [&](StringRef name) {
        return pgc::globMatches(rule.glob, name.str());
      });
      if (!any)
        module.emitWarning("pg-insert-lora: ")
            << policy << ": rule '" << rule.glob << "' matches no parameter";
    }
    if (!rules.lora())
      return;
    for (const std::string &target : rules.lora()->targets) {
      bool any = llvm::any_of(modules.keys(), [&](StringRef name) {
        return pgc::moduleTargetMatches(target, name.str());
      });
      if (!any)
        module.emitWarning("pg-insert-lora: ")
            << policy << ": lora target '" << target << "' matches no module";
    }
  }

  LogicalResult insertAdapters(func::FuncOp func, const pgc::LoraPolicy &lora) {
    llvm::MapVector<StringRef, ParamOp> weights;
    llvm::StringSet<> targeted;
    for (ParamOp param : func.getBody().front().getOps<ParamOp>()) {
      StringRef module = moduleOf(param.getName());
      if (module.empty() || !lora.selects(module.str()))
        continue;
      if (isLoraAdapterName(param.getName()))
        return param.emitError("pg-insert-lora: ")
               << "'" << param.getName()
               << "' already exists: the module has adapters";
      targeted.insert(module);
      if (param.getName().ends_with(".weight"))
        weights[module] = param;
    }
    for (const auto &entry : targeted) {
      StringRef module = entry.getKey();
      ParamOp weight = weights.lookup(module);
      SmallVector<MatmulOp> matmuls;
      if (!weight || !linearUses(weight, matmuls)) {
        Operation *at = weight ? weight.getOperation() : func.getOperation();
        return at->emitError("pg-insert-lora: ")
               << "lora target '" << module
               << "' is not a linear layer (its weight must be the "
                  "transposed rhs of every matmul that uses it)";
      }
      Value key = lora.dropout > 0 ? dropoutKey(func) : Value();
      for (auto [index, matmul] : llvm::enumerate(matmuls)) {
        // One site per use, so that two calls of a layer draw two masks.
        std::string site = module.str();
        if (index > 0)
          site += "#" + std::to_string(index);
        wrap(weight, matmul, lora, key, site);
      }
    }
    return success();
  }

  // The function's `dropout_key` argument (tensor<2xi64>: run seed,
  // micro-batch counter), appended on first use. The trainer feeds it;
  // pg-eval-mode removes it again from evaluation functions.
  Value dropoutKey(func::FuncOp func) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, "pg.name"))
        if (name.getValue() == pgc::contract::kDropoutKey)
          return func.getArgument(i);
    Builder builder(&getContext());
    auto type = RankedTensorType::get({2}, builder.getI64Type());
    unsigned index = func.getNumArguments();
    func.insertArgument(
        index, type,
        builder.getDictionaryAttr(builder.getNamedAttr(
            "pg.name", builder.getStringAttr(pgc::contract::kDropoutKey))),
        func.getLoc());
    return func.getArgument(index);
  }

  bool isLoraAdapterName(StringRef name) {
    return pgc::isLoraAdapterName(name.str());
  }

  // Adapter parameters for `weight`'s module in its function, created once.
  std::pair<Value, Value> adapterParams(ParamOp weight,
                                        const pgc::LoraPolicy &lora) {
    auto type = cast<RankedTensorType>(
        isa<NF4Type>(weight.getType())
            ? RankedTensorType::get(cast<NF4Type>(weight.getType()).getShape(),
                                    Float32Type::get(&getContext()))
            : weight.getType());
    std::string module = moduleOf(weight.getName()).str();
    std::string nameA = module + ".lora_A.weight";
    std::string nameB = module + ".lora_B.weight";
    Block *body = weight->getBlock();
    for (ParamOp existing : body->getOps<ParamOp>())
      if (existing.getName() == nameA) {
        ParamOp b;
        for (ParamOp other : body->getOps<ParamOp>())
          if (other.getName() == nameB)
            b = other;
        return {existing.getResult(), b.getResult()};
      }
    // peft keeps adapters in f32 (autocast_adapter_dtype upcasts 16-bit
    // ones); an f64 model keeps f64 so that finite differences stay exact.
    Type element = type.getElementType().isF64()
                       ? Type(Float64Type::get(&getContext()))
                       : Type(Float32Type::get(&getContext()));
    int64_t out = type.getShape()[0], in = type.getShape()[1];
    OpBuilder builder(weight->getContext());
    builder.setInsertionPointAfter(weight);
    // kaiming_uniform_(a = sqrt(5)) on an [r, in] matrix: bound
    // sqrt(6 / ((1 + 5) * in)) = 1 / sqrt(in), as nn.Linear and peft do.
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    auto a = builder.create<ParamOp>(
        weight.getLoc(), builder.getStringAttr(nameA),
        TypeAttr::get(RankedTensorType::get({lora.r, in}, element)),
        builder.getUnitAttr(),
        builder.getStringAttr("uniform(" + formatDouble(-bound) + "," +
                              formatDouble(bound) + ")"));
    auto b = builder.create<ParamOp>(
        weight.getLoc(), builder.getStringAttr(nameB),
        TypeAttr::get(RankedTensorType::get({out, lora.r}, element)),
        builder.getUnitAttr(), builder.getStringAttr("zeros"));
    return {a.getResult(), b.getResult()};
  }

  // y = base(x) [+ bias] becomes y + scaling * B(A(dropout(x))), computed in
  // the adapters' dtype and cast back to y's.
  void wrap(ParamOp weight, MatmulOp matmul, const pgc::LoraPolicy &lora,
            Value dropoutKey, const std::string &site) {
    auto [a, b] = adapterParams(weight, lora);
    Location loc = matmul.getLoc();
    // peft adds the adapter to the base layer's output, bias included: find
    // `add(y, broadcast(<module>.bias))` as the DSL's linear writes it.
    Operation *base = matmul;
    std::string biasName = moduleOf(weight.getName()).str() + ".bias";
    if (matmul->hasOneUse())
      if (auto add = dyn_cast<AddOp>(*matmul->getUsers().begin())) {
        Value other =
            add.getLhs() == matmul.getResult() ? add.getRhs() : add.getLhs();
        if (auto broadcast = other.getDefiningOp<BroadcastOp>())
          if (auto bias = broadcast.getInput().getDefiningOp<ParamOp>())
            if (bias.getName() == biasName)
              base = add;
      }
    Value y = base->getResult(0);
    auto yType = cast<RankedTensorType>(y.getType());
    Type element = cast<RankedTensorType>(a.getType()).getElementType();
    OpBuilder builder(base->getContext());
    builder.setInsertionPointAfter(base);
    Value x = matmul.getLhs();
    if (cast<RankedTensorType>(x.getType()).getElementType() != element)
      x = builder.create<CastOp>(loc, x, TypeAttr::get(element));
    // peft: lora_B(lora_A(dropout(x))) on the adapter's input dtype; the base
    // layer sees x undropped.
    if (dropoutKey)
      x = builder.create<DropoutOp>(loc, x, dropoutKey,
                                    builder.getF64FloatAttr(lora.dropout),
                                    builder.getStringAttr(site));
    Value down = builder.create<MatmulOp>(loc, x, a, UnitAttr(),
                                          builder.getUnitAttr(), TypeAttr());
    Value delta = builder.create<MatmulOp>(loc, down, b, UnitAttr(),
                                           builder.getUnitAttr(), TypeAttr());
    double scaling = lora.scaling();
    // Multiplying by exactly 1 (peft's default alpha = r) changes no bit.
    if (scaling != 1.0) {
      auto deltaType = cast<RankedTensorType>(delta.getType());
      auto scalarType = RankedTensorType::get({}, element);
      Value scalar = builder.create<ConstantOp>(
          loc, DenseElementsAttr::get(scalarType,
                                      builder.getFloatAttr(element, scaling)));
      Value splat =
          builder.create<BroadcastOp>(loc, scalar, deltaType.getShape());
      delta = builder.create<MulOp>(loc, delta, splat);
    }
    if (element != yType.getElementType())
      delta = builder.create<CastOp>(loc, delta,
                                     TypeAttr::get(yType.getElementType()));
    auto sum = builder.create<AddOp>(loc, y, delta);
    y.replaceAllUsesExcept(sum.getResult(), sum);
  }
};

} // namespace
} // namespace mlir::pg
