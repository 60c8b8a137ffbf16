// Single-rounding float conversions, float views of tensors and the checks
// every kernel shares.
#include "runtime/cpu/FloatAccess.h"

#include "runtime/cpu/Parallel.h"

#include <cmath>
#include <cstring>
#include <type_traits>

namespace pgc::cpu {
namespace {

// Rounds to f32 "to odd": truncate toward zero and set the last mantissa bit
// when the value was inexact. Rounding that f32 again to a format with at
// least two fewer mantissa bits (bf16: 8, f16: 11, f32: 24) then gives the
// same result as rounding the original value once.
float roundToOddFloat(long double value) {
  float nearest = static_cast<float>(value);
  if (static_cast<long double>(nearest) == value || std::isnan(nearest))
    return nearest;
  float towardZero = nearest;
  if (std::fabs(static_cast<long double>(nearest)) > std::fabs(value))
    towardZero = std::nextafter(nearest, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &towardZero, 4);
  bits |= 1u;
  float odd;
  std::memcpy(&odd, &bits, 4);
  return odd;
}

} // namespace

uint16_t doubleToBf16(double value) {
  return f32ToBf16(roundToOddFloat(value));
}
uint16_t doubleToF16(double value) { return f32ToF16(roundToOddFloat(value)); }
uint16_t int64ToBf16(int64_t value) {
  return f32ToBf16(roundToOddFloat(static_cast<long double>(value)));
}
uint16_t int64ToF16(int64_t value) {
  return f32ToF16(roundToOddFloat(static_cast<long double>(value)));
}

double readFloatAsDouble(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::BF16:
    return bf16ToF32(t.data<uint16_t>()[i]);
  case DType::F16:
    return f16ToF32(t.data<uint16_t>()[i]);
  case DType::F32:
    return t.data<float>()[i];
  case DType::F64:
    return t.data<double>()[i];
  default:
    fail("internal: readFloatAsDouble on a {} tensor", dtypeName(t.dtype()));
  }
}

void writeFloatFromDouble(Tensor &t, int64_t i, double value) {
  switch (t.dtype()) {
  case DType::BF16:
    t.data<uint16_t>()[i] = doubleToBf16(value);
    return;
  case DType::F16:
    t.data<uint16_t>()[i] = doubleToF16(value);
    return;
  case DType::F32:
    t.data<float>()[i] = static_cast<float>(value);
    return;
  case DType::F64:
    t.data<double>()[i] = value;
    return;
  default:
    fail("internal: writeFloatFromDouble on a {} tensor", dtypeName(t.dtype()));
  }
}

void writeFloatFromFloat(Tensor &t, int64_t i, float value) {
  switch (t.dtype()) {
  case DType::BF16:
    t.data<uint16_t>()[i] = f32ToBf16(value);
    return;
  case DType::F16:
    t.data<uint16_t>()[i] = f32ToF16(value);
    return;
  case DType::F32:
    t.data<float>()[i] = value;
    return;
  case DType::F64:
    t.data<double>()[i] = value;
    return;
  default:
    fail("internal: writeFloatFromFloat on a {} tensor", dtypeName(t.dtype()));
  }
}

bool anyF64(std::initializer_list<DType> dtypes) {
  for (DType d : dtypes)
    if (d == DType::F64)
      return true;
  return false;
}

template <typename Acc> static constexpr DType accDType() {
  return std::is_same_v<Acc, double> ? DType::F64 : DType::F32;
}

template <typename Acc>
FloatInput<Acc>::FloatInput(const Tensor &t, const char *op, const char *name) {
  requireFloat(t, op, name);
  if (t.dtype() == accDType<Acc>()) {
    data_ = t.data<Acc>();
    return;
  }
  converted_.resize(static_cast<size_t>(t.numel()));
  parallelFor(t.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      converted_[i] = static_cast<Acc>(readFloatAsDouble(t, i));
  });
  data_ = converted_.data();
}

template <typename Acc>
FloatOutput<Acc>::FloatOutput(Tensor &t, const char *op, const char *name)
    : tensor_(t) {
  requireFloat(t, op, name);
  if (t.dtype() == accDType<Acc>()) {
    data_ = t.data<Acc>();
    return;
  }
  staging_.assign(static_cast<size_t>(t.numel()), Acc(0));
  data_ = staging_.data();
}

template <typename Acc> void FloatOutput<Acc>::commit() {
  if (staging_.empty())
    return;
  parallelFor(tensor_.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if constexpr (std::is_same_v<Acc, double>)
        writeFloatFromDouble(tensor_, i, staging_[i]);
      else
        writeFloatFromFloat(tensor_, i, staging_[i]);
    }
  });
}

template class FloatInput<float>;
template class FloatInput<double>;
template class FloatOutput<float>;
template class FloatOutput<double>;

std::vector<int64_t> readIndices(const Tensor &t, const char *op,
                                 const char *name) {
  std::vector<int64_t> values(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::I32) {
    for (int64_t i = 0; i < t.numel(); ++i)
      values[i] = t.data<int32_t>()[i];
  } else if (t.dtype() == DType::I64) {
    for (int64_t i = 0; i < t.numel(); ++i)
      values[i] = t.data<int64_t>()[i];
  } else {
    fail("{}: {} must be i32 or i64, got {}", op, name, dtypeName(t.dtype()));
  }
  return values;
}

void requireShape(const Tensor &t, const Shape &expected, const char *op,
                  const char *name) {
  if (t.shape() != expected)
    fail("{}: {} has shape {}, expected {}", op, name, formatShape(t.shape()),
         formatShape(expected));
}

void requireDType(const Tensor &t, DType expected, const char *op,
                  const char *name) {
  if (t.dtype() != expected)
    fail("{}: {} has dtype {}, expected {}", op, name, dtypeName(t.dtype()),
         dtypeName(expected));
}

void requireFloat(const Tensor &t, const char *op, const char *name) {
  if (!isFloat(t.dtype()))
    fail("{}: {} must be a float tensor, got {}", op, name,
         dtypeName(t.dtype()));
}

void requireRank(const Tensor &t, int64_t rank, const char *op,
                 const char *name) {
  if (t.rank() != rank)
    fail("{}: {} must have rank {}, got shape {}", op, name, rank,
         formatShape(t.shape()));
}

int64_t normalizeAxis(int64_t axis, int64_t rank, const char *op) {
  if (axis < -rank || axis >= rank)
    fail("{}: axis {} is out of range for rank {}", op, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> rowMajorStrides(const Shape &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

} // namespace pgc::cpu
