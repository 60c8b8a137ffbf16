// The DSL op functions: broadcasting, attribute spelling and located errors around pg op creation.
#include "dsl/Ops.h"

#include "compiler/Dialect/Pg.h"
#include "dsl/Builder.h"
#include "runtime/support/Error.h"

#include <fmt/format.h>

namespace pgc::dsl {

namespace {

using namespace mlir::pg;

// The location operators use: the last explicit DSL call on this thread.
thread_local Loc lastLoc;

FunctionBuilder &functionOf(Tensor t, Loc loc) {
  if (!t.defined())
    throw Error(fmt::format("{}:{}: use of an undefined tensor", loc.file,
                            loc.line));
  lastLoc = loc;
  return t.function();
}

Shape broadcastShapes(FunctionBuilder &fn, const Shape &a, const Shape &b,
                      Loc loc) {
  size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      fn.failAt(loc, fmt::format("shapes {} and {} do not broadcast",
                                 formatShape(a), formatShape(b)));
    result[i] = da == 1 ? db : da;
  }
  return result;
}

template <typename OpTy>
Tensor binary(Tensor a, Tensor b, Loc loc, const char *name) {
  FunctionBuilder &fn = functionOf(a, loc);
  functionOf(b, loc);
  if (a.dtype() != b.dtype())
    fn.failAt(loc, fmt::format("{} of {} and {} tensors: cast one first", name,
                               dtypeName(a.dtype()), dtypeName(b.dtype())));
  Shape shape = broadcastShapes(fn, a.shape(), b.shape(), loc);
  if (a.shape() != shape)
    a = broadcastTo(a, shape, loc);
  if (b.shape() != shape)
    b = broadcastTo(b, shape, loc);
  return fn.create<OpTy>(loc, a.value(), b.value());
}

template <typename OpTy> Tensor unary(Tensor x, Loc loc) {
  return functionOf(x, loc).create<OpTy>(loc, x.value());
}

std::vector<int64_t> normaliseAxes(FunctionBuilder &fn, Tensor x,
                                   std::vector<int64_t> axes, Loc loc) {
  for (int64_t &axis : axes) {
    if (axis < -x.rank() || axis >= x.rank())
      fn.failAt(loc, fmt::format("axis {} is out of range for a rank-{} "
                                 "tensor",
                                 axis, x.rank()));
    if (axis < 0)
      axis += x.rank();
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

Tensor scalarLike(Tensor t, double value) {
  return full(t.function(), {}, value, t.dtype(), lastLoc);
}

ComparePredicate toPredicate(Compare predicate) {
  switch (predicate) {
  case Compare::Eq:
    return ComparePredicate::eq;
  case Compare::Ne:
    return ComparePredicate::ne;
  case Compare::Lt:
    return ComparePredicate::lt;
  case Compare::Le:
    return ComparePredicate::le;
  case Compare::Gt:
    return ComparePredicate::gt;
  case Compare::Ge:
    return ComparePredicate::ge;
  }
  return ComparePredicate::eq;
}

} // namespace

Tensor add(Tensor a, Tensor b, Loc loc) { return binary<AddOp>(a, b, loc, "add"); }
Tensor sub(Tensor a, Tensor b, Loc loc) { return binary<SubOp>(a, b, loc, "sub"); }
Tensor mul(Tensor a, Tensor b, Loc loc) { return binary<MulOp>(a, b, loc, "mul"); }
Tensor div(Tensor a, Tensor b, Loc loc) { return binary<DivOp>(a, b, loc, "div"); }
Tensor maximum(Tensor a, Tensor b, Loc loc) {
  return binary<MaxOp>(a, b, loc, "maximum");
}
Tensor minimum(Tensor a, Tensor b, Loc loc) {
  return binary<MinOp>(a, b, loc, "minimum");
}
Tensor neg(Tensor x, Loc loc) { return unary<NegOp>(x, loc); }
Tensor exp(Tensor x, Loc loc) { return unary<ExpOp>(x, loc); }
Tensor log(Tensor x, Loc loc) { return unary<LogOp>(x, loc); }
Tensor sqrt(Tensor x, Loc loc) { return unary<SqrtOp>(x, loc); }
Tensor rsqrt(Tensor x, Loc loc) { return unary<RsqrtOp>(x, loc); }
Tensor tanh(Tensor x, Loc loc) { return unary<TanhOp>(x, loc); }
Tensor geluTanh(Tensor x, Loc loc) { return unary<GeluTanhOp>(x, loc); }

Tensor compare(Compare predicate, Tensor a, Tensor b, Loc loc) {
  FunctionBuilder &fn = functionOf(a, loc);
  Shape shape = broadcastShapes(fn, a.shape(), b.shape(), loc);
  if (a.shape() != shape)
    a = broadcastTo(a, shape, loc);
  if (b.shape() != shape)
    b = broadcastTo(b, shape, loc);
  if (a.dtype() != b.dtype())
    fn.failAt(loc, fmt::format("compare of {} and {} tensors: cast one first",
                               dtypeName(a.dtype()), dtypeName(b.dtype())));
  return fn.create<CompareOp>(
      loc, ComparePredicateAttr::get(&fn.context(), toPredicate(predicate)),
      a.value(), b.value());
}

Tensor select(Tensor condition, Tensor onTrue, Tensor onFalse, Loc loc) {
  FunctionBuilder &fn = functionOf(condition, loc);
  Shape shape = broadcastShapes(
      fn, broadcastShapes(fn, condition.shape(), onTrue.shape(), loc),
      onFalse.shape(), loc);
  if (condition.shape() != shape)
    condition = broadcastTo(condition, shape, loc);
  if (onTrue.shape() != shape)
    onTrue = broadcastTo(onTrue, shape, loc);
  if (onFalse.shape() != shape)
    onFalse = broadcastTo(onFalse, shape, loc);
  return fn.createWithType<SelectOp>(loc, onTrue.value().getType(),
                                     condition.value(), onTrue.value(),
                                     onFalse.value());
}

Tensor cast(Tensor x, DType dtype, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  if (x.dtype() == dtype)
    return x;
  return fn.create<CastOp>(loc, x.value(),
                           mlir::TypeAttr::get(fn.elementType(dtype)));
}

Tensor full(FunctionBuilder &fn, const Shape &shape, double value, DType dtype,
            Loc loc) {
  return constant(fn, shape, std::vector<double>{value}, dtype, loc);
}

Tensor constant(FunctionBuilder &fn, const Shape &shape,
                const std::vector<double> &values, DType dtype, Loc loc) {
  lastLoc = loc;
  mlir::RankedTensorType type = fn.tensorType(shape, dtype);
  int64_t count = numElements(shape);
  if (values.size() != 1 && static_cast<int64_t>(values.size()) != count)
    fn.failAt(loc, fmt::format("constant of shape {} needs {} values, got {}",
                               formatShape(shape), count, values.size()));
  mlir::DenseElementsAttr attr;
  mlir::Type element = type.getElementType();
  if (auto floatType = llvm::dyn_cast<mlir::FloatType>(element)) {
    llvm::SmallVector<llvm::APFloat> floats;
    for (double v : values) {
      llvm::APFloat f(v);
      bool lost = false;
      f.convert(floatType.getFloatSemantics(),
                llvm::APFloat::rmNearestTiesToEven, &lost);
      floats.push_back(f);
    }
    attr = values.size() == 1 ? mlir::DenseElementsAttr::get(type, floats[0])
                              : mlir::DenseElementsAttr::get(type, floats);
  } else {
    unsigned width = element.getIntOrFloatBitWidth();
    llvm::SmallVector<llvm::APInt> ints;
    for (double v : values)
      ints.emplace_back(width, static_cast<int64_t>(v), /*isSigned=*/true);
    attr = values.size() == 1 ? mlir::DenseElementsAttr::get(type, ints[0])
                              : mlir::DenseElementsAttr::get(type, ints);
  }
  return fn.create<ConstantOp>(loc, attr);
}

Tensor iota(FunctionBuilder &fn, const Shape &shape, int64_t dim, DType dtype,
            Loc loc) {
  lastLoc = loc;
  return fn.createWithType<IotaOp>(loc, fn.tensorType(shape, dtype), dim);
}

Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepDims, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<ReduceSumOp>(loc, x.value(),
                                normaliseAxes(fn, x, std::move(axes), loc),
                                keepDims);
}

Tensor max(Tensor x, std::vector<int64_t> axes, bool keepDims, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<ReduceMaxOp>(loc, x.value(),
                                normaliseAxes(fn, x, std::move(axes), loc),
                                keepDims);
}

Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepDims, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<ReduceMeanOp>(loc, x.value(),
                                 normaliseAxes(fn, x, std::move(axes), loc),
                                 keepDims);
}

Tensor cumsum(Tensor x, int64_t axis, Loc loc) {
  return functionOf(x, loc).create<CumsumOp>(loc, x.value(), axis);
}

Tensor matmul(Tensor a, Tensor b, bool transposeA, bool transposeB, Loc loc) {
  FunctionBuilder &fn = functionOf(a, loc);
  mlir::Type acc = a.dtype() == DType::F64 ? fn.elementType(DType::F64)
                                           : fn.elementType(DType::F32);
  mlir::UnitAttr set = fn.builder().getUnitAttr();
  return fn.create<MatmulOp>(loc, a.value(), b.value(),
                             transposeA ? set : mlir::UnitAttr(),
                             transposeB ? set : mlir::UnitAttr(),
                             mlir::TypeAttr::get(acc));
}

Tensor reshape(Tensor x, const Shape &shape, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  if (x.shape() == shape)
    return x;
  return fn.create<ReshapeOp>(loc, x.value(), llvm::ArrayRef<int64_t>(shape));
}

Tensor transpose(Tensor x, const std::vector<int64_t> &perm, Loc loc) {
  return functionOf(x, loc).create<TransposeOp>(loc, x.value(),
                                                llvm::ArrayRef<int64_t>(perm));
}

Tensor broadcastTo(Tensor x, const Shape &shape, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  if (x.shape() == shape)
    return x;
  return fn.create<BroadcastOp>(loc, x.value(),
                                llvm::ArrayRef<int64_t>(shape));
}

Tensor slice(Tensor x, const std::vector<int64_t> &starts,
             const std::vector<int64_t> &limits, std::vector<int64_t> strides,
             Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  if (strides.empty())
    strides.assign(starts.size(), 1);
  return fn.create<SliceOp>(loc, x.value(), llvm::ArrayRef<int64_t>(starts),
                            llvm::ArrayRef<int64_t>(limits),
                            llvm::ArrayRef<int64_t>(strides));
}

Tensor concat(const std::vector<Tensor> &inputs, int64_t axis, Loc loc) {
  if (inputs.empty())
    throw Error(fmt::format("{}:{}: concat of no tensors", loc.file, loc.line));
  FunctionBuilder &fn = functionOf(inputs.front(), loc);
  llvm::SmallVector<mlir::Value> values;
  for (const Tensor &t : inputs)
    values.push_back(t.value());
  return fn.create<ConcatOp>(loc, mlir::ValueRange(values), axis);
}

Tensor gather(Tensor table, Tensor ids, Loc loc) {
  return functionOf(table, loc).create<GatherOp>(loc, table.value(),
                                                 ids.value());
}

Tensor scatter(Tensor dest, Tensor indices, Tensor updates, Loc loc) {
  return functionOf(dest, loc).create<ScatterOp>(loc, dest.value(),
                                                 indices.value(),
                                                 updates.value());
}

Tensor softmax(Tensor x, int64_t axis, Loc loc) {
  return functionOf(x, loc).create<SoftmaxOp>(loc, x.value(), axis);
}

Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<LayerNormOp>(loc, x.value(), weight.value(), bias.value(),
                                fn.builder().getF32FloatAttr(eps));
}

Tensor rmsNorm(Tensor x, Tensor weight, float eps, bool unitOffset, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<RmsNormOp>(loc, x.value(), weight.value(),
                              fn.builder().getF32FloatAttr(eps),
                              unitOffset ? fn.builder().getUnitAttr()
                                         : mlir::UnitAttr());
}

Tensor rope(Tensor x, Tensor positions, float theta, Loc loc) {
  FunctionBuilder &fn = functionOf(x, loc);
  return fn.create<RopeOp>(loc, x.value(), positions.value(),
                           fn.builder().getF32FloatAttr(theta));
}

Tensor attention(Tensor query, Tensor key, Tensor value, Tensor mask,
                 float scale, Loc loc) {
  FunctionBuilder &fn = functionOf(query, loc);
  return fn.create<AttentionOp>(loc, query.value(), key.value(), value.value(),
                                mask.value(),
                                fn.builder().getF32FloatAttr(scale));
}

Tensor crossEntropy(Tensor logits, Tensor labels, int64_t ignoreIndex,
                    Loc loc) {
  return functionOf(logits, loc).create<CrossEntropyOp>(
      loc, logits.value(), labels.value(), ignoreIndex);
}

Tensor operator+(Tensor a, Tensor b) { return add(a, b, lastLoc); }
Tensor operator-(Tensor a, Tensor b) { return sub(a, b, lastLoc); }
Tensor operator*(Tensor a, Tensor b) { return mul(a, b, lastLoc); }
Tensor operator/(Tensor a, Tensor b) { return div(a, b, lastLoc); }
Tensor operator-(Tensor x) { return neg(x, lastLoc); }
Tensor operator+(Tensor a, double b) { return a + scalarLike(a, b); }
Tensor operator+(double a, Tensor b) { return scalarLike(b, a) + b; }
Tensor operator-(Tensor a, double b) { return a - scalarLike(a, b); }
Tensor operator-(double a, Tensor b) { return scalarLike(b, a) - b; }
Tensor operator*(Tensor a, double b) { return a * scalarLike(a, b); }
Tensor operator*(double a, Tensor b) { return scalarLike(b, a) * b; }
Tensor operator/(Tensor a, double b) { return a / scalarLike(a, b); }
Tensor operator/(double a, Tensor b) { return scalarLike(b, a) / b; }

} // namespace pgc::dsl
