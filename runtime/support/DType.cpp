// Element type names, sizes and the bf16/f16 conversions used across the runtime.
#include "runtime/support/DType.h"

#include <cmath>

namespace pgc {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::BF16:
  case DType::F16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 0;
}

std::string_view dtypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::U8:
    return "u8";
  case DType::Bool:
    return "i1";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view name) {
  for (DType d : {DType::BF16, DType::F16, DType::F32, DType::F64, DType::I32,
                  DType::I64, DType::U8, DType::Bool})
    if (dtypeName(d) == name)
      return d;
  return std::nullopt;
}

bool isFloat(DType dtype) {
  return dtype == DType::BF16 || dtype == DType::F16 || dtype == DType::F32 ||
         dtype == DType::F64;
}

uint16_t f32ToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN: keep it quiet.
    return static_cast<uint16_t>(sign | 0x7e00u);
  if (magnitude >= 0x477ff000u) // Rounds to or beyond 65520: infinity.
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    // Subnormal or zero in f16: scale so that the f16 subnormal unit becomes
    // an integer, then let the FPU round to nearest even.
    float absValue;
    std::memcpy(&absValue, &magnitude, 4);
    float scaled = absValue * 16777216.0f; // 2^24
    uint32_t rounded = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | rounded);
  }
  // Normal: re-bias the exponent and round the 13 dropped mantissa bits.
  uint32_t result = magnitude - 0x38000000u; // (127 - 15) << 23
  uint32_t roundingBias = 0x0fffu + ((result >> 13) & 1u);
  result = (result + roundingBias) >> 13;
  return static_cast<uint16_t>(sign | result);
}

float f64ToF32RoundToOdd(double value) {
  float nearest = static_cast<float>(value);
  if (!std::isfinite(value) || static_cast<double>(nearest) == value)
    return nearest;
  if (std::isinf(nearest) ||
      std::fabs(static_cast<double>(nearest)) > std::fabs(value))
    nearest = std::nextafter(nearest, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &nearest, 4);
  bits |= 1u;
  std::memcpy(&nearest, &bits, 4);
  return nearest;
}

float f16ToF32(uint16_t value) {
  uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  uint32_t exponent = (value >> 10) & 0x1fu;
  uint32_t mantissa = value & 0x3ffu;
  float result;
  if (exponent == 0) {
    result = std::ldexp(static_cast<float>(mantissa), -24);
    if (sign)
      result = -result;
    return result;
  }
  uint32_t bits;
  if (exponent == 31)
    bits = sign | 0x7f800000u | (mantissa << 13);
  else
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  std::memcpy(&result, &bits, 4);
  return result;
}

} // namespace pgc
