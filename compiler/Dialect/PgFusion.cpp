// pg.fusion: which ops may be fused, and the fusion op's verifier.
#include "compiler/Dialect/Pg.h"

using namespace mlir;
using namespace mlir::pg;

bool mlir::pg::isFusibleElementwise(Operation *op) {
  // Every operand and the result have one shape, element i of the result
  // depends on element i of the operands only, and the op has no state:
  // exactly what one thread per element can compute. Dropout qualifies too:
  // its key operand, of its own shape, is read whole by every thread.
  if (auto broadcast = dyn_cast<BroadcastOp>(op))
    // A scalar spread over the group's shape (lr, beta, a norm's factor): one
    // load per thread. Wider broadcasts index by more than the element.
    return llvm::cast<RankedTensorType>(broadcast.getInput().getType())
               .getNumElements() == 1;
  return isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, NegOp, ExpOp, LogOp,
             SqrtOp, RsqrtOp, TanhOp, GeluTanhOp, GeluTanhGradOp, CompareOp,
             SelectOp, CastOp, DropoutOp>(op);
}

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  auto yield = dyn_cast_or_null<YieldOp>(body.empty() ? nullptr : &body.back());
  if (!yield)
    return emitOpError("body must end with pg.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().getTypes().size()
           << " values whose types differ from the results'";
  if (body.getOperations().size() == 1)
    return emitOpError("has no ops to fuse");
  std::optional<ArrayRef<int64_t>> shape;
  for (Operation &op : body.without_terminator()) {
    if (!isFusibleElementwise(&op))
      return emitOpError("cannot fuse '")
             << op.getName() << "': not an elementwise op";
    for (Type type : op.getResultTypes()) {
      ArrayRef<int64_t> opShape = llvm::cast<RankedTensorType>(type).getShape();
      if (!shape)
        shape = opShape;
      else if (*shape != opShape)
        return emitOpError("fuses ops of different shapes");
    }
  }
  for (Value value : yield.getValues())
    if (value.getParentRegion() != &getBody())
      return emitOpError("yields a value defined outside its body");
  return success();
}
