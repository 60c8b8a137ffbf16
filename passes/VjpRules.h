// Vector-Jacobian products of the pg ops: the backward rule of each op, used by pg-autodiff.
#pragma once

#include "compiler/Dialect/Pg.h"

#include "mlir/IR/Builders.h"

namespace mlir::pg {

/// Emits backward ops through one builder, at its insertion point.
class VjpBuilder {
public:
  VjpBuilder(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  /// Operand gradients of `op` given the gradients of its results (null for
  /// results that reach no loss). Only operands whose `needed` bit is set get
  /// a gradient; others, and operands that take none (integer ids, masks),
  /// are null. Fails with a diagnostic on ops that cannot be differentiated.
  FailureOr<SmallVector<Value>> vjp(Operation *op, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> needed);

  /// A tensor of `type` filled with zeros (a broadcast scalar constant).
  Value zeros(RankedTensorType type);
  /// A tensor of `type` filled with `value`.
  Value splat(RankedTensorType type, double value);

private:
  Value matmulLhsGrad(MatmulOp op, Value dy);
  Value matmulRhsGrad(MatmulOp op, Value dy);
  Value unbroadcast(Value grad, RankedTensorType target);
  Value sliceGrad(SliceOp op, Value dy);
  Value batchedRows(Value source, Value indices);
  Value expandReduced(Value reduced, RankedTensorType full,
                      ArrayRef<int64_t> axes, bool keepDims);

  OpBuilder &b;
  Location loc;
};

} // namespace mlir::pg
