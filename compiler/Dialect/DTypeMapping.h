// The one mapping between MLIR element types and the runtime's DType, shared by the DSL and the lowering.
#pragma once

#include "runtime/support/DType.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::pg {

/// The runtime dtype of a pg element type; nullopt for any other type.
inline std::optional<pgc::DType> runtimeDType(Type element) {
  if (element.isBF16())
    return pgc::DType::BF16;
  if (element.isF16())
    return pgc::DType::F16;
  if (element.isF32())
    return pgc::DType::F32;
  if (element.isF64())
    return pgc::DType::F64;
  if (element.isSignlessInteger(32))
    return pgc::DType::I32;
  if (element.isSignlessInteger(64))
    return pgc::DType::I64;
  if (element.isSignlessInteger(1))
    return pgc::DType::Bool;
  return std::nullopt;
}

/// The pg element type of a runtime dtype; null for u8, which pg tensors
/// never hold (NF4 storage has its own type).
inline Type elementTypeOf(pgc::DType dtype, MLIRContext *context) {
  switch (dtype) {
  case pgc::DType::BF16:
    return BFloat16Type::get(context);
  case pgc::DType::F16:
    return Float16Type::get(context);
  case pgc::DType::F32:
    return Float32Type::get(context);
  case pgc::DType::F64:
    return Float64Type::get(context);
  case pgc::DType::I32:
    return IntegerType::get(context, 32);
  case pgc::DType::I64:
    return IntegerType::get(context, 64);
  case pgc::DType::Bool:
    return IntegerType::get(context, 1);
  case pgc::DType::U8:
    break;
  }
  return {};
}

} // namespace mlir::pg
