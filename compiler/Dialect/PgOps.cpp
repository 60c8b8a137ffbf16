// Verifiers and result-type inference of the pg ops.
//
// Shape rules live in inferReturnTypes so that the custom assembly formats
// can omit result types and every rule is checked once, with the op's
// location, whether the op is parsed, built by the DSL or created by a pass.
#include "compiler/Dialect/Pg.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::pg;

#include "compiler/Dialect/PgEnums.cpp.inc"

namespace {

RankedTensorType tensorType(Value value) {
  return llvm::cast<RankedTensorType>(value.getType());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

bool isPgElementType(Type type) {
  return type.isBF16() || type.isF16() || type.isF32() || type.isF64() ||
         type.isSignlessInteger(32) || type.isSignlessInteger(64) ||
         type.isSignlessInteger(1);
}

int64_t product(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  return count;
}

// Normalises a possibly negative axis; fails if it is out of range.
FailureOr<int64_t> normaliseAxis(std::optional<Location> loc, int64_t axis,
                                 int64_t rank, StringRef what) {
  int64_t normalised = axis < 0 ? axis + rank : axis;
  if (normalised < 0 || normalised >= rank) {
    (void)emitOptionalError(loc, what, " ", axis, " is out of range for rank ",
                            rank);
    return failure();
  }
  return normalised;
}

LogicalResult checkLastDimWeight(std::optional<Location> loc,
                                 RankedTensorType input,
                                 RankedTensorType weight, StringRef what) {
  if (input.getRank() < 1)
    return emitOptionalError(loc, what, " input must have rank >= 1");
  if (weight.getRank() != 1 || weight.getDimSize(0) != input.getShape().back())
    return emitOptionalError(loc, what, " weight must have shape [",
                             input.getShape().back(), "], got ",
                             shapeString(weight.getShape()));
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  types.push_back(adaptor.getType());
  return success();
}

LogicalResult ParamOp::verify() {
  StringRef name = getName();
  if (name.empty())
    return emitOpError("parameter name must not be empty");
  // Hugging Face names are dot-separated identifiers such as
  // "language_model.model.layers.3.mlp.gate_proj.weight".
  SmallVector<StringRef> parts;
  name.split(parts, '.');
  for (StringRef part : parts) {
    if (part.empty())
      return emitOpError("parameter name '")
             << name << "' has an empty component";
    if (!llvm::all_of(part,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; }))
      return emitOpError("parameter name '")
             << name << "' may only hold letters, digits, '_' and '.'";
  }
  if (auto nf4 = llvm::dyn_cast<NF4Type>(getType()); nf4 && getTrainable())
    return emitOpError("an nf4-quantized parameter cannot be trainable");
  return success();
}

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  auto type = llvm::dyn_cast<RankedTensorType>(adaptor.getValue().getType());
  if (!type || !type.hasStaticShape() ||
      !isPgElementType(type.getElementType()))
    return emitOptionalError(loc, "constant must be a static tensor of a pg "
                                  "element type");
  types.push_back(type);
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult StateOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto type = llvm::dyn_cast<RankedTensorType>(adaptor.getType());
  if (!type || !type.hasStaticShape() ||
      !isPgElementType(type.getElementType()))
    return emitOptionalError(loc, "state must be a static pg tensor type");
  types.push_back(type);
  return success();
}

LogicalResult StateOp::verify() {
  if (getName().empty())
    return emitOpError("state name must not be empty");
  if (getKind() != "gradient" && getKind() != "optimizer")
    return emitOpError("state kind must be 'gradient' or 'optimizer', got '")
           << getKind() << "'";
  return success();
}

LogicalResult StoreOp::verify() {
  Operation *def = getTarget().getDefiningOp();
  if (!def || !llvm::isa<ParamOp, StateOp>(def))
    return emitOpError("target must be the result of pg.param or pg.state");
  for (Operation *user : getTarget().getUsers())
    if (user != getOperation() &&
        user->getBlock() == getOperation()->getBlock() &&
        getOperation()->isBeforeInBlock(user))
      return emitOpError("target is used after the store");
  return success();
}

LogicalResult IotaOp::verify() {
  auto type = llvm::cast<RankedTensorType>(getType());
  if (failed(normaliseAxis(getLoc(), getDim(), type.getRank(), "iota dim")))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location>,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto lhs = tensorType(adaptor.getLhs());
  types.push_back(
      RankedTensorType::get(lhs.getShape(), IntegerType::get(context, 1)));
  return success();
}

LogicalResult CastOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  Type dtype = adaptor.getDtype();
  if (!isPgElementType(dtype))
    return emitOptionalError(loc, "cannot cast to ", dtype,
                             ": not a pg element type");
  types.push_back(
      RankedTensorType::get(tensorType(adaptor.getInput()).getShape(), dtype));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

static LogicalResult inferReduce(std::optional<Location> loc, Value input,
                                 ArrayRef<int64_t> axes, bool keepDims,
                                 SmallVectorImpl<Type> &types) {
  auto type = tensorType(input);
  if (axes.empty())
    return emitOptionalError(loc, "reduction needs at least one axis");
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= type.getRank())
      return emitOptionalError(loc, "reduction axis ", axes[i],
                               " is out of range for rank ", type.getRank());
    if (i > 0 && axes[i] <= axes[i - 1])
      return emitOptionalError(loc, "reduction axes must be strictly "
                                    "increasing");
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!llvm::is_contained(axes, d))
      shape.push_back(type.getDimSize(d));
    else if (keepDims)
      shape.push_back(1);
  }
  types.push_back(RankedTensorType::get(shape, type.getElementType()));
  return success();
}

#define PG_REDUCE_INFER(OpClass)                                               \
  LogicalResult OpClass::inferReturnTypes(                                     \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &types) {                                          \
    return inferReduce(loc, adaptor.getInput(), adaptor.getAxes(),             \
                       adaptor.getKeepDims(), types);                          \
  }
PG_REDUCE_INFER(ReduceSumOp)
PG_REDUCE_INFER(ReduceMaxOp)
#undef PG_REDUCE_INFER

LogicalResult ReduceMeanOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  if (!llvm::isa<FloatType>(tensorType(adaptor.getInput()).getElementType()))
    return emitOptionalError(loc, "reduce_mean needs a float tensor");
  return inferReduce(loc, adaptor.getInput(), adaptor.getAxes(),
                     adaptor.getKeepDims(), types);
}

LogicalResult CumsumOp::verify() {
  return normaliseAxis(getLoc(), getAxis(), getType().getRank(), "cumsum axis");
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto lhs = tensorType(adaptor.getLhs());
  auto rhs = tensorType(adaptor.getRhs());
  if (lhs.getElementType() != rhs.getElementType())
    return emitOptionalError(loc,
                             "matmul operands have different element "
                             "types: ",
                             lhs.getElementType(), " and ",
                             rhs.getElementType());
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOptionalError(loc, "matmul operands must have rank >= 2");
  if (rhs.getRank() != 2 && rhs.getRank() != lhs.getRank())
    return emitOptionalError(loc,
                             "matmul rhs must have rank 2 or the rank of "
                             "lhs (",
                             lhs.getRank(), "), got ", rhs.getRank());
  ArrayRef<int64_t> l = lhs.getShape(), r = rhs.getShape();
  int64_t lr = lhs.getRank(), rr = rhs.getRank();
  int64_t m = adaptor.getTransposeLhs() ? l[lr - 1] : l[lr - 2];
  int64_t kLhs = adaptor.getTransposeLhs() ? l[lr - 2] : l[lr - 1];
  int64_t kRhs = adaptor.getTransposeRhs() ? r[rr - 1] : r[rr - 2];
  int64_t n = adaptor.getTransposeRhs() ? r[rr - 2] : r[rr - 1];
  if (kLhs != kRhs)
    return emitOptionalError(loc, "matmul contraction sizes differ: lhs ",
                             shapeString(l), " and rhs ", shapeString(r),
                             " give K = ", kLhs, " and ", kRhs);
  if (rr == lr && l.drop_back(2) != r.drop_back(2))
    return emitOptionalError(
        loc, "matmul batch dimensions differ: ", shapeString(l.drop_back(2)),
        " and ", shapeString(r.drop_back(2)));
  SmallVector<int64_t> shape(l.drop_back(2));
  shape.push_back(m);
  shape.push_back(n);
  types.push_back(RankedTensorType::get(shape, lhs.getElementType()));
  return success();
}

LogicalResult MatmulOp::verify() {
  std::optional<Type> acc = getAccType();
  if (!acc)
    return success();
  Type element = getLhs().getType().getElementType();
  if (!acc->isF32() && !acc->isF64())
    return emitOpError("acc_type must be f32 or f64, got ") << *acc;
  if (element.isF64() && !acc->isF64())
    return emitOpError("f64 operands need acc_type f64");
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  ArrayRef<int64_t> shape = adaptor.getShape();
  if (llvm::any_of(shape, [](int64_t d) { return d < 0; }))
    return emitOptionalError(loc, "reshape target ", shapeString(shape),
                             " has a negative dimension");
  if (product(shape) != input.getNumElements())
    return emitOptionalError(
        loc, "cannot reshape ", shapeString(input.getShape()), " (",
        input.getNumElements(), " elements) to ", shapeString(shape), " (",
        product(shape), " elements)");
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if (static_cast<int64_t>(perm.size()) != input.getRank())
    return emitOptionalError(loc, "transpose permutation has ", perm.size(),
                             " entries for rank ", input.getRank());
  llvm::SmallSet<int64_t, 8> seen;
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || !seen.insert(p).second)
      return emitOptionalError(loc, "transpose permutation ", shapeString(perm),
                               " is not a permutation of 0..",
                               input.getRank() - 1);
    shape.push_back(input.getDimSize(p));
  }
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult BroadcastOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  ArrayRef<int64_t> shape = adaptor.getShape();
  ArrayRef<int64_t> in = input.getShape();
  if (in.size() > shape.size())
    return emitOptionalError(loc, "cannot broadcast ", shapeString(in),
                             " to the lower-rank shape ", shapeString(shape));
  size_t offset = shape.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != shape[offset + i])
      return emitOptionalError(loc, "cannot broadcast ", shapeString(in),
                               " to ", shapeString(shape), ": dimension ", i,
                               " is ", in[i]);
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  ArrayRef<int64_t> starts = adaptor.getStarts(), limits = adaptor.getLimits(),
                    strides = adaptor.getStrides();
  int64_t rank = input.getRank();
  if (static_cast<int64_t>(starts.size()) != rank ||
      static_cast<int64_t>(limits.size()) != rank ||
      static_cast<int64_t>(strides.size()) != rank)
    return emitOptionalError(loc,
                             "slice needs one start, limit and stride "
                             "per dimension (rank ",
                             rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (strides[d] < 1)
      return emitOptionalError(loc, "slice stride must be >= 1, got ",
                               strides[d], " in dimension ", d);
    if (starts[d] < 0 || starts[d] > limits[d] ||
        limits[d] > input.getDimSize(d))
      return emitOptionalError(loc, "slice [", starts[d], ", ", limits[d],
                               ") is out of bounds for dimension ", d,
                               " of size ", input.getDimSize(d));
    shape.push_back((limits[d] - starts[d] + strides[d] - 1) / strides[d]);
  }
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  if (adaptor.getInputs().empty())
    return emitOptionalError(loc, "concat needs at least one input");
  auto first = tensorType(adaptor.getInputs().front());
  FailureOr<int64_t> axis =
      normaliseAxis(loc, adaptor.getAxis(), first.getRank(), "concat axis");
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : adaptor.getInputs()) {
    auto type = tensorType(v);
    if (type.getElementType() != first.getElementType() ||
        type.getRank() != first.getRank())
      return emitOptionalError(loc, "concat inputs must share element type "
                                    "and rank");
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != *axis && type.getDimSize(d) != first.getDimSize(d))
        return emitOptionalError(loc, "concat inputs differ in dimension ", d,
                                 ": ", shapeString(first.getShape()), " and ",
                                 shapeString(type.getShape()));
    shape[*axis] += type.getDimSize(*axis);
  }
  types.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto table = tensorType(adaptor.getTable());
  auto ids = tensorType(adaptor.getIds());
  if (table.getRank() < 1)
    return emitOptionalError(loc, "gather table must have rank >= 1");
  SmallVector<int64_t> shape(ids.getShape());
  llvm::append_range(shape, table.getShape().drop_front());
  types.push_back(RankedTensorType::get(shape, table.getElementType()));
  return success();
}

LogicalResult ScatterOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto dest = tensorType(adaptor.getDest());
  auto indices = tensorType(adaptor.getIndices());
  auto updates = tensorType(adaptor.getUpdates());
  if (dest.getRank() < 2 || indices.getRank() != 2)
    return emitOptionalError(loc, "scatter needs dest [B, L, ...] and "
                                  "indices [B, N]");
  SmallVector<int64_t> expected = {dest.getDimSize(0), indices.getDimSize(1)};
  llvm::append_range(expected, dest.getShape().drop_front(2));
  if (indices.getDimSize(0) != dest.getDimSize(0) ||
      updates.getShape() != ArrayRef<int64_t>(expected) ||
      updates.getElementType() != dest.getElementType())
    return emitOptionalError(
        loc, "scatter updates must be ", shapeString(expected), " of ",
        dest.getElementType(), " for dest ", shapeString(dest.getShape()),
        " and indices ", shapeString(indices.getShape()), ", got ",
        shapeString(updates.getShape()), " of ", updates.getElementType());
  types.push_back(dest);
  return success();
}

//===----------------------------------------------------------------------===//
// Composite ops
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return normaliseAxis(getLoc(), getAxis(), getType().getRank(),
                       "softmax axis");
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  if (failed(checkLastDimWeight(loc, input, tensorType(adaptor.getWeight()),
                                "layer_norm")))
    return failure();
  types.push_back(input);
  return success();
}

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  if (failed(checkLastDimWeight(loc, input, tensorType(adaptor.getWeight()),
                                "rms_norm")))
    return failure();
  types.push_back(input);
  return success();
}

LogicalResult RopeOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  auto input = tensorType(adaptor.getInput());
  auto positions = tensorType(adaptor.getPositions());
  if (input.getRank() != 4)
    return emitOptionalError(loc, "rope input must be [B, H, L, D], got ",
                             shapeString(input.getShape()));
  if (input.getDimSize(3) % 2 != 0)
    return emitOptionalError(loc, "rope head dimension must be even, got ",
                             input.getDimSize(3));
  if (positions.getRank() != 2 ||
      positions.getDimSize(0) != input.getDimSize(0) ||
      positions.getDimSize(1) != input.getDimSize(2))
    return emitOptionalError(loc, "rope positions must be [",
                             input.getDimSize(0), ", ", input.getDimSize(2),
                             "], got ", shapeString(positions.getShape()));
  types.push_back(input);
  return success();
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto q = tensorType(adaptor.getQuery());
  auto k = tensorType(adaptor.getKey());
  auto v = tensorType(adaptor.getValue());
  auto mask = tensorType(adaptor.getMask());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4 ||
      mask.getRank() != 4)
    return emitOptionalError(loc, "attention operands must all have rank 4");
  if (q.getElementType() != k.getElementType() ||
      q.getElementType() != v.getElementType())
    return emitOptionalError(loc, "attention query, key and value must share "
                                  "an element type");
  int64_t b = q.getDimSize(0), hq = q.getDimSize(1), l = q.getDimSize(2),
          d = q.getDimSize(3), hkv = k.getDimSize(1), s = k.getDimSize(2);
  if (k.getDimSize(0) != b || v.getDimSize(0) != b)
    return emitOptionalError(loc, "attention batch sizes differ");
  if (k.getDimSize(3) != d)
    return emitOptionalError(loc, "attention key head dim ", k.getDimSize(3),
                             " differs from the query's ", d);
  if (v.getDimSize(1) != hkv || v.getDimSize(2) != s)
    return emitOptionalError(loc, "attention value must have ", hkv,
                             " heads and ", s, " positions like the key");
  if (hkv == 0 || hq % hkv != 0)
    return emitOptionalError(loc, "attention query heads (", hq,
                             ") must be a multiple of key/value heads (", hkv,
                             ")");
  if ((mask.getDimSize(0) != b && mask.getDimSize(0) != 1) ||
      (mask.getDimSize(1) != hq && mask.getDimSize(1) != 1) ||
      mask.getDimSize(2) != l || mask.getDimSize(3) != s)
    return emitOptionalError(loc, "attention mask must be [", b, " or 1, ", hq,
                             " or 1, ", l, ", ", s, "], got ",
                             shapeString(mask.getShape()));
  types.push_back(
      RankedTensorType::get({b, hq, l, v.getDimSize(3)}, q.getElementType()));
  return success();
}

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *context,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  auto logits = tensorType(adaptor.getLogits());
  auto labels = tensorType(adaptor.getLabels());
  if (logits.getRank() < 1 ||
      logits.getShape().drop_back() != labels.getShape())
    return emitOptionalError(loc,
                             "cross_entropy labels must have the logits' "
                             "shape without the class dimension: ",
                             shapeString(logits.getShape().drop_back()),
                             ", got ", shapeString(labels.getShape()));
  Type resultElement = logits.getElementType().isF64()
                           ? Type(Float64Type::get(context))
                           : Type(Float32Type::get(context));
  types.push_back(RankedTensorType::get({}, resultElement));
  return success();
}

LogicalResult DequantNF4Op::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  auto weight = llvm::cast<NF4Type>(adaptor.getWeight().getType());
  Type dtype = adaptor.getDtype();
  if (!llvm::isa<FloatType>(dtype) || !isPgElementType(dtype))
    return emitOptionalError(loc,
                             "dequant_nf4 target must be bf16, f16, f32 "
                             "or f64, got ",
                             dtype);
  types.push_back(RankedTensorType::get(weight.getShape(), dtype));
  return success();
}

LogicalResult DropoutOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location>,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  types.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError("p must be in [0, 1), got ") << p;
  auto key = getKey().getType();
  if (key.getShape() != ArrayRef<int64_t>{2} ||
      !key.getElementType().isInteger(64))
    return emitOpError("key must be tensor<2xi64> (seed, counter), got ")
           << key;
  if (getSite().empty())
    return emitOpError("site must name the dropout place");
  return success();
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

LogicalResult ScatterAddOp::verify() {
  auto ids = getIds().getType();
  auto grad = getGrad().getType();
  auto table = getType();
  SmallVector<int64_t> expected(ids.getShape());
  llvm::append_range(expected, table.getShape().drop_front());
  if (table.getRank() < 1 || grad.getShape() != ArrayRef<int64_t>(expected) ||
      grad.getElementType() != table.getElementType())
    return emitOpError("grad must be ")
           << shapeString(expected) << " of " << table.getElementType()
           << " for ids " << shapeString(ids.getShape()) << " and table "
           << shapeString(table.getShape()) << ", got "
           << shapeString(grad.getShape());
  return success();
}

#define GET_OP_CLASSES
#include "compiler/Dialect/PgOps.cpp.inc"
