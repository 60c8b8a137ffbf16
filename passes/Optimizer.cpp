// pg-optimizer: gradient accumulation in train_step and an apply_update
// function doing clipped AdamW.
#include "passes/Passes.h"
#include "runtime/artifact/TrainingContract.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/GlobPattern.h"

#include <cstring>

namespace mlir::pg {

#define GEN_PASS_DEF_PGOPTIMIZER
#include "passes/Passes.h.inc"

namespace {

using pgc::contract::kUpdateInputs;

// Positions in kUpdateInputs.
enum UpdateInput {
  Lr,
  WeightDecay,
  Beta1,
  Beta2,
  Eps,
  BiasCorrection1,
  BiasCorrection2,
  MaxGradNorm,
  NumUpdateInputs
};
static_assert(NumUpdateInputs == std::size(kUpdateInputs),
              "UpdateInput must list kUpdateInputs in order");

enum class Variant { AdamWTorch, AdamWHf };

// A parameter the optimizer updates: its pg.param in train_step and the
// gradient train_step returns for it.
struct Trained {
  // Op handles are not const-correct in MLIR; reading the op is harmless.
  mutable ParamOp param;
  unsigned resultIndex;
  bool decay;
};

RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

// Gradient accumulators and moments are f32, except for f64 parameters,
// whose f64 tests must not lose precision in the state.
Type stateElementType(ParamOp param) {
  Type element = cast<RankedTensorType>(param.getType()).getElementType();
  return element.isF64() ? element : Float32Type::get(param.getContext());
}

// Emits the arithmetic of the pass through one builder.
class Emitter {
public:
  Emitter(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  Value constant(Type element, double value) {
    auto type = RankedTensorType::get({}, element);
    return b.create<ConstantOp>(
        loc, DenseElementsAttr::get(
                 type, b.getFloatAttr(cast<FloatType>(element), value)));
  }
  Value castTo(Value v, Type element) {
    if (tensorOf(v).getElementType() == element)
      return v;
    return b.create<CastOp>(loc, v, TypeAttr::get(element));
  }
  // A rank-0 value spread over `shape` (pg ops do not broadcast implicitly).
  Value spread(Value scalar, ArrayRef<int64_t> shape) {
    if (shape.empty())
      return scalar;
    return b.create<BroadcastOp>(loc, scalar, shape);
  }
  Value add(Value a, Value c) { return b.create<AddOp>(loc, a, c); }
  Value sub(Value a, Value c) { return b.create<SubOp>(loc, a, c); }
  Value mul(Value a, Value c) { return b.create<MulOp>(loc, a, c); }
  Value div(Value a, Value c) { return b.create<DivOp>(loc, a, c); }
  Value sqrt(Value a) { return b.create<SqrtOp>(loc, a); }
  Value sumAll(Value a) {
    int64_t rank = tensorOf(a).getRank();
    if (rank == 0)
      return a;
    SmallVector<int64_t> axes;
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
    return b.create<ReduceSumOp>(loc, a, axes, /*keep_dims=*/false);
  }

  OpBuilder &b;
  Location loc;
};

struct OptimizerPass : impl::PgOptimizerBase<OptimizerPass> {
  using PgOptimizerBase::PgOptimizerBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<Variant> chosen =
        llvm::StringSwitch<std::optional<Variant>>(variant)
            .Case("adamw_torch", Variant::AdamWTorch)
            .Case("adamw_hf", Variant::AdamWHf)
            .Default(std::nullopt);
    if (!chosen) {
      module.emitError("pg-optimizer: unknown variant '")
          << variant << "' (expected adamw_torch or adamw_hf)";
      return signalPassFailure();
    }
    SmallVector<llvm::GlobPattern> noDecayGlobs;
    SmallVector<StringRef> spellings;
    StringRef(noDecay).split(spellings, ',', -1, /*KeepEmpty=*/false);
    for (StringRef spelling : spellings) {
      auto glob = llvm::GlobPattern::create(spelling.trim());
      if (!glob) {
        module.emitError("pg-optimizer: bad no-decay glob '")
            << spelling.trim() << "': " << llvm::toString(glob.takeError());
        return signalPassFailure();
      }
      noDecayGlobs.push_back(std::move(*glob));
    }
    auto train = module.lookupSymbol<func::FuncOp>(function);
    if (!train) {
      module.emitError("pg-optimizer: no function '") << function << "'";
      return signalPassFailure();
    }
    if (module.lookupSymbol(output)) {
      train.emitError("pg-optimizer: a symbol named '")
          << output << "' already exists";
      return signalPassFailure();
    }
    FailureOr<SmallVector<Trained>> trained =
        collectTrained(train, noDecayGlobs);
    if (failed(trained))
      return signalPassFailure();
    accumulateGradients(train, *trained);
    buildApplyUpdate(train, *trained, *chosen);
  }

  // The parameters train_step returns a gradient for, in result order.
  FailureOr<SmallVector<Trained>>
  collectTrained(func::FuncOp train, ArrayRef<llvm::GlobPattern> noDecayGlobs) {
    llvm::StringMap<ParamOp> params;
    for (ParamOp param : train.getBody().front().getOps<ParamOp>())
      params.try_emplace(param.getName(), param);
    SmallVector<Trained> trained;
    for (unsigned i = 0; i < train.getNumResults(); ++i) {
      auto name = train.getResultAttrOfType<StringAttr>(i, "pg.name");
      if (!name || !name.getValue().starts_with("grad."))
        continue;
      StringRef paramName = name.getValue().drop_front(strlen("grad."));
      auto it = params.find(paramName);
      if (it == params.end())
        return train.emitError("pg-optimizer: result '")
               << name.getValue() << "' names no pg.param of the function";
      ParamOp param = it->second;
      if (param.getType() != train.getResultTypes()[i])
        return train.emitError("pg-optimizer: result '")
               << name.getValue() << "' has type " << train.getResultTypes()[i]
               << " but the parameter is " << param.getType();
      std::string lower = paramName.lower();
      bool decay = llvm::none_of(noDecayGlobs, [&](const llvm::GlobPattern &g) {
        return g.match(lower);
      });
      trained.push_back({param, i, decay});
    }
    if (trained.empty())
      return train.emitError("pg-optimizer: '")
             << function << "' returns no gradient (grad.<name> result)";
    return trained;
  }

  // train_step: acc += grad * loss_scale for every gradient result, which
  // then leaves the function's results.
  void accumulateGradients(func::FuncOp train, ArrayRef<Trained> trained) {
    MLIRContext *context = &getContext();
    OpBuilder builder(context);
    auto scalarF32 = RankedTensorType::get({}, Float32Type::get(context));
    unsigned scaleIndex = train.getNumArguments();
    train.insertArgument(scaleIndex, scalarF32,
                         builder.getDictionaryAttr(builder.getNamedAttr(
                             "pg.name", builder.getStringAttr("loss_scale"))),
                         train.getLoc());
    Value lossScale = train.getArgument(scaleIndex);

    auto ret = cast<func::ReturnOp>(train.getBody().front().getTerminator());
    builder.setInsertionPoint(ret);
    llvm::DenseSet<unsigned> gradientResults;
    for (const Trained &t : trained) {
      gradientResults.insert(t.resultIndex);
      Emitter e(builder, t.param.getLoc());
      Type element = stateElementType(t.param);
      auto type = cast<RankedTensorType>(t.param.getType());
      auto accType = RankedTensorType::get(type.getShape(), element);
      Value acc = builder.create<StateOp>(
          e.loc, builder.getStringAttr("grad." + t.param.getName().str()),
          builder.getStringAttr("gradient"), TypeAttr::get(accType));
      Value grad = e.castTo(ret.getOperand(t.resultIndex), element);
      Value scale = e.spread(e.castTo(lossScale, element), type.getShape());
      builder.create<StoreOp>(e.loc, e.add(acc, e.mul(grad, scale)), acc);
    }

    SmallVector<Value> results;
    SmallVector<Type> resultTypes;
    SmallVector<Attribute> resultAttrs;
    for (unsigned i = 0; i < train.getNumResults(); ++i) {
      if (gradientResults.contains(i))
        continue;
      results.push_back(ret.getOperand(i));
      resultTypes.push_back(train.getResultTypes()[i]);
      DictionaryAttr attrs = train.getResultAttrDict(i);
      resultAttrs.push_back(attrs ? attrs : builder.getDictionaryAttr({}));
    }
    builder.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    train.setFunctionType(
        builder.getFunctionType(train.getArgumentTypes(), resultTypes));
    train.setAllResultAttrs(resultAttrs);
  }

  // apply_update: global norm clipping, AdamW, stores, zeroed accumulators.
  void buildApplyUpdate(func::FuncOp train, ArrayRef<Trained> trained,
                        Variant variant) {
    MLIRContext *context = &getContext();
    OpBuilder builder(context);
    builder.setInsertionPointAfter(train);
    Type f32 = Float32Type::get(context);
    auto scalarF32 = RankedTensorType::get({}, f32);
    // The norm is f64 as soon as one accumulator is, so that f64 problems
    // keep full precision end to end.
    Type normType = f32;
    for (const Trained &t : trained)
      if (stateElementType(t.param).isF64())
        normType = stateElementType(t.param);

    SmallVector<Type> argTypes(NumUpdateInputs, scalarF32);
    SmallVector<Attribute> argAttrs;
    for (const char *name : kUpdateInputs)
      argAttrs.push_back(builder.getDictionaryAttr(
          builder.getNamedAttr("pg.name", builder.getStringAttr(name))));
    auto normResult = RankedTensorType::get({}, normType);
    auto update = builder.create<func::FuncOp>(
        train.getLoc(), output,
        builder.getFunctionType(argTypes, {normResult}));
    update.setAllArgAttrs(argAttrs);
    update.setResultAttrs(0,
                          builder.getDictionaryAttr(builder.getNamedAttr(
                              "pg.name", builder.getStringAttr("grad_norm"))));
    Block *body = update.addEntryBlock();
    builder.setInsertionPointToStart(body);
    Emitter e(builder, update.getLoc());

    // Reads of every buffer first, then arithmetic, then the stores, so that
    // no buffer is read after it is overwritten.
    struct Buffers {
      Value param, acc, expAvg, expAvgSq;
    };
    SmallVector<Buffers> buffers;
    for (const Trained &t : trained) {
      auto type = cast<RankedTensorType>(t.param.getType());
      auto stateType =
          RankedTensorType::get(type.getShape(), stateElementType(t.param));
      std::string name = t.param.getName().str();
      auto state = [&](const std::string &stateName, const char *kind) {
        return builder.create<StateOp>(
            t.param.getLoc(), builder.getStringAttr(stateName),
            builder.getStringAttr(kind), TypeAttr::get(stateType));
      };
      Buffers b;
      b.param = builder.clone(*t.param)->getResult(0);
      b.acc = state("grad." + name, "gradient");
      b.expAvg = state("adam.exp_avg." + name, "optimizer");
      b.expAvgSq = state("adam.exp_avg_sq." + name, "optimizer");
      buffers.push_back(b);
    }

    // torch.nn.utils.clip_grad_norm_: the 2-norm over all accumulators,
    // coef = max_norm / (norm + 1e-6) clamped to 1.
    Value total;
    for (const Buffers &b : buffers) {
      Value squares = e.castTo(e.sumAll(e.mul(b.acc, b.acc)), normType);
      total = total ? e.add(total, squares) : squares;
    }
    Value norm = e.sqrt(total);
    Value maxNorm = e.castTo(body->getArgument(MaxGradNorm), normType);
    Value one = e.constant(normType, 1.0);
    Value coef = builder.create<MinOp>(
        e.loc, e.div(maxNorm, e.add(norm, e.constant(normType, 1e-6))), one);
    Value clipping = builder.create<CompareOp>(
        e.loc, ComparePredicateAttr::get(context, ComparePredicate::gt),
        maxNorm, e.constant(normType, 0.0));
    coef = builder.create<SelectOp>(e.loc, clipping, coef, one);

    // Rank-0 hyperparameters and the factors derived from them, per state
    // dtype.
    struct Scalars {
      Value coef, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps;
      Value stepSize;    // torch: lr / bc1; hf: lr * sqrt(bc2) / bc1
      Value sqrtBc2;     // torch only
      Value decayFactor; // torch: 1 - lr * wd
      Value lrTimesWd;   // hf: lr * wd
    };
    DenseMap<Type, Scalars> scalarsByType;
    auto scalarsFor = [&](Type element) -> const Scalars & {
      auto it = scalarsByType.find(element);
      if (it != scalarsByType.end())
        return it->second;
      auto in = [&](UpdateInput i) {
        return e.castTo(body->getArgument(i), element);
      };
      Value unit = e.constant(element, 1.0);
      Scalars s;
      s.coef = e.castTo(coef, element);
      s.beta1 = in(Beta1);
      s.oneMinusBeta1 = e.sub(unit, s.beta1);
      s.beta2 = in(Beta2);
      s.oneMinusBeta2 = e.sub(unit, s.beta2);
      s.eps = in(Eps);
      Value lr = in(Lr), wd = in(WeightDecay), bc1 = in(BiasCorrection1);
      Value sqrtBc2 = e.sqrt(in(BiasCorrection2));
      if (variant == Variant::AdamWTorch) {
        s.stepSize = e.div(lr, bc1);
        s.sqrtBc2 = sqrtBc2;
        s.decayFactor = e.sub(unit, e.mul(lr, wd));
      } else {
        s.stepSize = e.div(e.mul(lr, sqrtBc2), bc1);
        s.lrTimesWd = e.mul(lr, wd);
      }
      return scalarsByType.try_emplace(element, s).first->second;
    };

    struct Stores {
      Value expAvg, expAvgSq, param, zero;
    };
    SmallVector<Stores> stores;
    for (auto [t, b] : llvm::zip(trained, buffers)) {
      Emitter p(builder, t.param.getLoc());
      auto type = cast<RankedTensorType>(t.param.getType());
      ArrayRef<int64_t> shape = type.getShape();
      Type element = stateElementType(t.param);
      const Scalars &s = scalarsFor(element);
      auto full = [&](Value scalar) { return p.spread(scalar, shape); };

      Value grad = p.mul(b.acc, full(s.coef));
      Value expAvg = p.add(p.mul(b.expAvg, full(s.beta1)),
                           p.mul(grad, full(s.oneMinusBeta1)));
      Value expAvgSq = p.add(p.mul(b.expAvgSq, full(s.beta2)),
                             p.mul(p.mul(grad, grad), full(s.oneMinusBeta2)));
      Value value = p.castTo(b.param, element);
      if (variant == Variant::AdamWTorch) {
        // Decay first, on the value before the Adam step.
        if (t.decay)
          value = p.mul(value, full(s.decayFactor));
        Value denom =
            p.add(p.div(p.sqrt(expAvgSq), full(s.sqrtBc2)), full(s.eps));
        value = p.sub(value, p.mul(full(s.stepSize), p.div(expAvg, denom)));
      } else {
        Value denom = p.add(p.sqrt(expAvgSq), full(s.eps));
        value = p.sub(value, p.mul(full(s.stepSize), p.div(expAvg, denom)));
        // Decay after the Adam step, on the updated value.
        if (t.decay)
          value = p.sub(value, p.mul(full(s.lrTimesWd), value));
      }
      value = p.castTo(value, type.getElementType());
      stores.push_back(
          {expAvg, expAvgSq, value, full(p.constant(element, 0.0))});
    }
    for (auto [t, b, s] : llvm::zip(trained, buffers, stores)) {
      Location loc = t.param.getLoc();
      builder.create<StoreOp>(loc, s.expAvg, b.expAvg);
      builder.create<StoreOp>(loc, s.expAvgSq, b.expAvgSq);
      builder.create<StoreOp>(loc, s.param, b.param);
      builder.create<StoreOp>(loc, s.zero, b.acc);
    }
    builder.create<func::ReturnOp>(update.getLoc(), norm);
  }
};

} // namespace
} // namespace mlir::pg
