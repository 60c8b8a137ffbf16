// Tensor queries (shape, dtype) read off the MLIR value's type, and initialiser spellings.
#include "dsl/Tensor.h"

#include "compiler/Dialect/DTypeMapping.h"

#include "dsl/Builder.h"
#include "dsl/Ops.h"
#include "runtime/support/Error.h"

#include "mlir/IR/BuiltinTypes.h"

#include <fmt/format.h>

namespace pgc::dsl {

Init Init::normal(double stddev) {
  return Init(fmt::format("normal({})", stddev));
}

Init Init::uniform(double low, double high) {
  return Init(fmt::format("uniform({},{})", low, high));
}

static mlir::RankedTensorType typeOf(mlir::Value value) {
  return llvm::cast<mlir::RankedTensorType>(value.getType());
}

Shape Tensor::shape() const {
  auto type = typeOf(value_);
  return Shape(type.getShape().begin(), type.getShape().end());
}

int64_t Tensor::rank() const { return typeOf(value_).getRank(); }

int64_t Tensor::dim(int64_t i) const {
  int64_t r = rank();
  if (i < -r || i >= r)
    throw Error(fmt::format("dimension {} is out of range for a rank-{} "
                            "tensor",
                            i, r));
  return typeOf(value_).getDimSize(i < 0 ? i + r : i);
}

int64_t Tensor::numel() const { return typeOf(value_).getNumElements(); }

DType Tensor::dtype() const {
  if (std::optional<DType> dtype =
          mlir::pg::runtimeDType(typeOf(value_).getElementType()))
    return *dtype;
  throw Error("tensor has an element type the DSL does not know");
}

Tensor Tensor::to(DType dtype, Loc loc) const { return cast(*this, dtype, loc); }

} // namespace pgc::dsl
