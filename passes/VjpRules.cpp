// The backward rule of every differentiable pg op, expressed with pg ops.
#include "passes/VjpRules.h"

#include "mlir/IR/BuiltinAttributes.h"

namespace mlir::pg {

namespace {

RankedTensorType typeOf(Value v) {
  return llvm::cast<RankedTensorType>(v.getType());
}

bool isFloatTensor(Value v) {
  auto type = llvm::dyn_cast<RankedTensorType>(v.getType());
  return type && llvm::isa<FloatType>(type.getElementType());
}

} // namespace

Value VjpBuilder::splat(RankedTensorType type, double value) {
  auto scalarType = RankedTensorType::get({}, type.getElementType());
  Attribute element;
  if (auto floatType = llvm::dyn_cast<FloatType>(type.getElementType()))
    element = b.getFloatAttr(floatType, value);
  else
    element =
        b.getIntegerAttr(type.getElementType(), static_cast<int64_t>(value));
  Value scalar =
      b.create<ConstantOp>(loc, DenseElementsAttr::get(scalarType, element));
  if (type.getRank() == 0)
    return scalar;
  return b.create<BroadcastOp>(loc, scalar, type.getShape());
}

Value VjpBuilder::zeros(RankedTensorType type) { return splat(type, 0.0); }

// Sums a gradient of a broadcast result back to the broadcast's input shape.
Value VjpBuilder::unbroadcast(Value grad, RankedTensorType target) {
  auto gradType = typeOf(grad);
  int64_t offset = gradType.getRank() - target.getRank();
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < gradType.getRank(); ++d)
    if (d < offset ||
        (target.getDimSize(d - offset) == 1 && gradType.getDimSize(d) != 1))
      axes.push_back(d);
  Value summed = grad;
  if (!axes.empty())
    summed = b.create<ReduceSumOp>(loc, grad, axes, /*keep_dims=*/false);
  if (typeOf(summed).getShape() != target.getShape())
    summed = b.create<ReshapeOp>(loc, summed, target.getShape());
  return summed;
}

// Broadcasts a reduction's result (or its gradient) back over the reduced axes.
Value VjpBuilder::expandReduced(Value reduced, RankedTensorType full,
                                ArrayRef<int64_t> axes, bool keepDims) {
  Value kept = reduced;
  if (!keepDims) {
    SmallVector<int64_t> shape(full.getShape());
    for (int64_t axis : axes)
      shape[axis] = 1;
    kept = b.create<ReshapeOp>(loc, reduced, shape);
  }
  return b.create<BroadcastOp>(loc, kept, full.getShape());
}

// y = op(A) op(B); the four transpose cases, and a rank-2 B shared by a
// batched A (its gradient sums over the batch).
Value VjpBuilder::matmulLhsGrad(MatmulOp op, Value dy) {
  Value rhs = op.getRhs();
  bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
  auto acc = op.getAccTypeAttr();
  // dA = dY op(B)^T, as [..., M, K].
  Value grad = b.create<MatmulOp>(loc, dy, rhs, /*ta=*/nullptr,
                                  tb ? UnitAttr() : b.getUnitAttr(), acc);
  if (!ta)
    return grad;
  // A is stored transposed ([..., K, M]): transpose the last two dims.
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < typeOf(grad).getRank(); ++d)
    perm.push_back(d);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return b.create<TransposeOp>(loc, grad, perm);
}

Value VjpBuilder::matmulRhsGrad(MatmulOp op, Value dy) {
  Value lhs = op.getLhs();
  bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
  auto acc = op.getAccTypeAttr();
  auto lhsType = typeOf(lhs), rhsType = typeOf(op.getRhs());
  if (rhsType.getRank() == 2 && lhsType.getRank() > 2) {
    // Fold the batch into the rows: A [b.., M, K] -> [bM, K], dY -> [bM, N].
    if (ta) {
      SmallVector<int64_t> perm;
      for (int64_t d = 0; d < lhsType.getRank(); ++d)
        perm.push_back(d);
      std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
      lhs = b.create<TransposeOp>(loc, lhs, perm);
      ta = false;
      lhsType = typeOf(lhs);
    }
    int64_t k = lhsType.getShape().back();
    int64_t rows = lhsType.getNumElements() / k;
    auto dyType = typeOf(dy);
    lhs = b.create<ReshapeOp>(loc, lhs, ArrayRef<int64_t>{rows, k});
    dy = b.create<ReshapeOp>(loc, dy,
                             ArrayRef<int64_t>{rows, dyType.getShape().back()});
  }
  if (!tb)
    return b.create<MatmulOp>(loc, lhs, dy, ta ? UnitAttr() : b.getUnitAttr(),
                              UnitAttr(), acc);
  return b.create<MatmulOp>(loc, dy, lhs, b.getUnitAttr(),
                            ta ? b.getUnitAttr() : UnitAttr(), acc);
}

// slice's adjoint: the gradient padded with zeros back to the input shape.
Value VjpBuilder::sliceGrad(SliceOp op, Value dy) {
  auto inputType = typeOf(op.getInput());
  Value grad = dy;
  for (int64_t d = 0; d < inputType.getRank(); ++d) {
    int64_t start = op.getStarts()[d], limit = op.getLimits()[d];
    int64_t size = inputType.getDimSize(d);
    if (start == 0 && limit == size)
      continue;
    SmallVector<Value> pieces;
    auto piece = [&](int64_t length) {
      SmallVector<int64_t> shape(typeOf(grad).getShape());
      shape[d] = length;
      return zeros(RankedTensorType::get(shape, inputType.getElementType()));
    };
    if (start > 0)
      pieces.push_back(piece(start));
    pieces.push_back(grad);
    if (limit < size)
      pieces.push_back(piece(size - limit));
    grad = b.create<ConcatOp>(loc, pieces, d);
  }
  return grad;
}

// rows[b, n] = source[b, indices[b, n]] for source [B, L, ...], via a
// gather over the flattened [B*L, ...] source.
Value VjpBuilder::batchedRows(Value source, Value indices) {
  auto sourceType = typeOf(source), indexType = typeOf(indices);
  int64_t batch = sourceType.getDimSize(0), length = sourceType.getDimSize(1);
  SmallVector<int64_t> flatShape = {batch * length};
  llvm::append_range(flatShape, sourceType.getShape().drop_front(2));
  Value flat = b.create<ReshapeOp>(loc, source, flatShape);
  Value batchIndex = b.create<IotaOp>(loc, indexType, 0);
  Value offsets = b.create<MulOp>(loc, batchIndex, splat(indexType, length));
  Value flatIndices = b.create<AddOp>(loc, offsets, indices);
  return b.create<GatherOp>(loc, flat, flatIndices);
}

FailureOr<SmallVector<Value>> VjpBuilder::vjp(Operation *op,
                                              ArrayRef<Value> resultGrads,
                                              ArrayRef<bool> needed) {
  SmallVector<Value> grads(op->getNumOperands());
  Value dy = resultGrads.empty() ? Value() : resultGrads[0];
  auto want = [&](unsigned i) {
    return needed[i] && isFloatTensor(op->getOperand(i));
  };

  if (isa<AddOp>(op)) {
    grads = {dy, dy};
  } else if (isa<SubOp>(op)) {
    grads = {dy, want(1) ? Value(b.create<NegOp>(loc, dy)) : Value()};
  } else if (auto mul = dyn_cast<MulOp>(op)) {
    if (want(0))
      grads[0] = b.create<MulOp>(loc, dy, mul.getRhs());
    if (want(1))
      grads[1] = b.create<MulOp>(loc, dy, mul.getLhs());
  } else if (auto div = dyn_cast<DivOp>(op)) {
    if (want(0))
      grads[0] = b.create<DivOp>(loc, dy, div.getRhs());
    if (want(1)) {
      Value scaled = b.create<MulOp>(loc, dy, div.getResult());
      grads[1] =
          b.create<NegOp>(loc, b.create<DivOp>(loc, scaled, div.getRhs()));
    }
  } else if (isa<MaxOp, MinOp>(op)) {
    // Ties send the gradient to the left operand.
    auto predicate =
        isa<MaxOp>(op) ? ComparePredicate::ge : ComparePredicate::le;
    Value takeLhs = b.create<CompareOp>(
        loc, ComparePredicateAttr::get(b.getContext(), predicate),
        op->getOperand(0), op->getOperand(1));
    Value zero = zeros(typeOf(dy));
    if (want(0))
      grads[0] = b.create<SelectOp>(loc, takeLhs, dy, zero);
    if (want(1))
      grads[1] = b.create<SelectOp>(loc, takeLhs, zero, dy);
  } else if (isa<NegOp>(op)) {
    grads[0] = b.create<NegOp>(loc, dy);
  } else if (auto exp = dyn_cast<ExpOp>(op)) {
    grads[0] = b.create<MulOp>(loc, dy, exp.getResult());
  } else if (auto log = dyn_cast<LogOp>(op)) {
    grads[0] = b.create<DivOp>(loc, dy, log.getInput());
  } else if (auto sqrt = dyn_cast<SqrtOp>(op)) {
    Value half = b.create<MulOp>(loc, dy, splat(typeOf(dy), 0.5));
    grads[0] = b.create<DivOp>(loc, half, sqrt.getResult());
  } else if (auto rsqrt = dyn_cast<RsqrtOp>(op)) {
    Value y = rsqrt.getResult();
    Value cube = b.create<MulOp>(loc, y, b.create<MulOp>(loc, y, y));
    Value scaled = b.create<MulOp>(loc, dy, splat(typeOf(dy), -0.5));
    grads[0] = b.create<MulOp>(loc, scaled, cube);
  } else if (auto tanh = dyn_cast<TanhOp>(op)) {
    Value y = tanh.getResult();
    Value slope =
        b.create<SubOp>(loc, splat(typeOf(y), 1.0), b.create<MulOp>(loc, y, y));
    grads[0] = b.create<MulOp>(loc, dy, slope);
  } else if (auto gelu = dyn_cast<GeluTanhOp>(op)) {
    grads[0] = b.create<GeluTanhGradOp>(loc, gelu.getInput(), dy);
  } else if (auto select = dyn_cast<SelectOp>(op)) {
    Value zero = zeros(typeOf(dy));
    if (want(1))
      grads[1] = b.create<SelectOp>(loc, select.getCondition(), dy, zero);
    if (want(2))
      grads[2] = b.create<SelectOp>(loc, select.getCondition(), zero, dy);
  } else if (auto cast = dyn_cast<CastOp>(op)) {
    if (want(0))
      grads[0] = b.create<CastOp>(
          loc, dy, TypeAttr::get(typeOf(cast.getInput()).getElementType()));
  } else if (auto sum = dyn_cast<ReduceSumOp>(op)) {
    grads[0] = expandReduced(dy, typeOf(sum.getInput()), sum.getAxes(),
                             sum.getKeepDims());
  } else if (auto mean = dyn_cast<ReduceMeanOp>(op)) {
    auto inputType = typeOf(mean.getInput());
    int64_t count = 1;
    for (int64_t axis : mean.getAxes())
      count *= inputType.getDimSize(axis);
    Value scaled = b.create<MulOp>(loc, dy, splat(typeOf(dy), 1.0 / count));
    grads[0] =
        expandReduced(scaled, inputType, mean.getAxes(), mean.getKeepDims());
  } else if (auto max = dyn_cast<ReduceMaxOp>(op)) {
    auto inputType = typeOf(max.getInput());
    Value peak = expandReduced(max.getResult(), inputType, max.getAxes(),
                               max.getKeepDims());
    Value isPeak = b.create<CompareOp>(
        loc, ComparePredicateAttr::get(b.getContext(), ComparePredicate::eq),
        max.getInput(), peak);
    Value spread =
        expandReduced(dy, inputType, max.getAxes(), max.getKeepDims());
    grads[0] = b.create<SelectOp>(loc, isPeak, spread, zeros(inputType));
  } else if (auto matmul = dyn_cast<MatmulOp>(op)) {
    if (want(0))
      grads[0] = matmulLhsGrad(matmul, dy);
    if (want(1))
      grads[1] = matmulRhsGrad(matmul, dy);
  } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    grads[0] =
        b.create<ReshapeOp>(loc, dy, typeOf(reshape.getInput()).getShape());
  } else if (auto transpose = dyn_cast<TransposeOp>(op)) {
    SmallVector<int64_t> inverse(transpose.getPerm().size());
    for (size_t i = 0; i < inverse.size(); ++i)
      inverse[transpose.getPerm()[i]] = static_cast<int64_t>(i);
    grads[0] = b.create<TransposeOp>(loc, dy, inverse);
  } else if (auto broadcast = dyn_cast<BroadcastOp>(op)) {
    grads[0] = unbroadcast(dy, typeOf(broadcast.getInput()));
  } else if (auto slice = dyn_cast<SliceOp>(op)) {
    if (llvm::any_of(slice.getStrides(), [](int64_t s) { return s != 1; }))
      return op->emitError("cannot differentiate a strided slice");
    grads[0] = sliceGrad(slice, dy);
  } else if (auto concat = dyn_cast<ConcatOp>(op)) {
    int64_t axis = concat.getAxis();
    auto resultType = typeOf(concat.getResult());
    if (axis < 0)
      axis += resultType.getRank();
    int64_t offset = 0;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      int64_t size = typeOf(op->getOperand(i)).getDimSize(axis);
      if (want(i)) {
        SmallVector<int64_t> starts(resultType.getRank(), 0);
        SmallVector<int64_t> limits(resultType.getShape());
        SmallVector<int64_t> strides(resultType.getRank(), 1);
        starts[axis] = offset;
        limits[axis] = offset + size;
        grads[i] = b.create<SliceOp>(loc, dy, starts, limits, strides);
      }
      offset += size;
    }
  } else if (auto gather = dyn_cast<GatherOp>(op)) {
    if (want(0))
      grads[0] = b.create<ScatterAddOp>(loc, typeOf(gather.getTable()),
                                        gather.getIds(), dy);
  } else if (auto scatter = dyn_cast<ScatterOp>(op)) {
    if (want(0))
      grads[0] = b.create<ScatterOp>(loc, dy, scatter.getIndices(),
                                     zeros(typeOf(scatter.getUpdates())));
    if (want(2))
      grads[2] = batchedRows(dy, scatter.getIndices());
  } else if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    grads[0] = b.create<SoftmaxGradOp>(loc, softmax.getResult(), dy,
                                       softmax.getAxis());
  } else if (auto norm = dyn_cast<LayerNormOp>(op)) {
    auto backward = b.create<LayerNormGradOp>(
        loc, norm.getInput(), norm.getWeight(), dy, norm.getEpsilonAttr());
    grads = {backward.getInputGrad(), backward.getWeightGrad(),
             backward.getBiasGrad()};
  } else if (auto norm = dyn_cast<RmsNormOp>(op)) {
    auto backward = b.create<RmsNormGradOp>(
        loc, norm.getInput(), norm.getWeight(), dy, norm.getEpsilonAttr(),
        norm.getUnitOffsetAttr());
    grads = {backward.getInputGrad(), backward.getWeightGrad()};
  } else if (auto rope = dyn_cast<RopeOp>(op)) {
    grads[0] =
        b.create<RopeGradOp>(loc, dy, rope.getPositions(), rope.getThetaAttr());
  } else if (auto attention = dyn_cast<AttentionOp>(op)) {
    auto backward = b.create<AttentionGradOp>(
        loc, attention.getQuery(), attention.getKey(), attention.getValue(),
        attention.getMask(), dy, attention.getScaleAttr());
    grads = {backward.getQueryGrad(), backward.getKeyGrad(),
             backward.getValueGrad(), Value()};
  } else if (auto loss = dyn_cast<CrossEntropyOp>(op)) {
    grads[0] = b.create<CrossEntropyGradOp>(
        loc, loss.getLogits(), loss.getLabels(), dy, loss.getIgnoreIndexAttr());
  } else if (auto dropout = dyn_cast<DropoutOp>(op)) {
    // Linear in x for a fixed key: the same mask (same key and site) and
    // scale applied to dy. The key is an integer input and gets nothing.
    grads[0] = b.create<DropoutOp>(loc, dy, dropout.getKey(),
                                   dropout.getPAttr(), dropout.getSiteAttr());
  } else if (isa<CompareOp, IotaOp, ConstantOp, ParamOp, DequantNF4Op>(op)) {
    // No gradient flows through comparisons, indices or frozen storage.
  } else {
    return op->emitError("pg-autodiff has no backward rule for this op");
  }
  for (unsigned i = 0; i < grads.size(); ++i)
    if (!want(i))
      grads[i] = Value();
  return grads;
}

} // namespace mlir::pg
