// The FLOP estimates pg-freeze reports before and after pruning.
#include "passes/CostModel.h"

#include "compiler/Dialect/Pg.h"

namespace mlir::pg {

namespace {

int64_t elements(Value v) {
  if (auto type = dyn_cast<RankedTensorType>(v.getType()))
    return type.getNumElements();
  return 0;
}

} // namespace

int64_t estimateFlops(Operation *op) {
  if (auto matmul = dyn_cast<MatmulOp>(op)) {
    auto lhs = cast<RankedTensorType>(matmul.getLhs().getType());
    int64_t k = matmul.getTransposeLhs() ? lhs.getDimSize(lhs.getRank() - 2)
                                         : lhs.getShape().back();
    return 2 * elements(matmul.getResult()) * k;
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    auto q = cast<RankedTensorType>(attention.getQuery().getType());
    auto k = cast<RankedTensorType>(attention.getKey().getType());
    // Scores and the weighted sum: two products over [B, Hq, L, S, D].
    return 4 * q.getNumElements() * k.getDimSize(2);
  }
  if (auto grad = dyn_cast<AttentionGradOp>(op)) {
    auto q = cast<RankedTensorType>(grad.getQuery().getType());
    auto k = cast<RankedTensorType>(grad.getKey().getType());
    // Recomputed scores plus four products for dq, dk, dv and dp.
    return 10 * q.getNumElements() * k.getDimSize(2);
  }
  if (isa<ReshapeOp, TransposeOp, BroadcastOp, SliceOp, ConcatOp, ParamOp,
          StateOp, ConstantOp, IotaOp, StoreOp, GatherOp, ScatterOp,
          DequantNF4Op>(op))
    return 0;
  if (isa<SoftmaxOp, LayerNormOp, RmsNormOp, RopeOp, CrossEntropyOp,
          SoftmaxGradOp, LayerNormGradOp, RmsNormGradOp, RopeGradOp,
          CrossEntropyGradOp, GeluTanhOp, GeluTanhGradOp>(op))
    return op->getNumOperands() ? 8 * elements(op->getOperand(0)) : 0;
  if (op->getNumResults() == 1)
    return elements(op->getResult(0));
  return 0;
}

} // namespace mlir::pg
