// Element types of runtime tensors and exact conversions between bf16, f16 and f32.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace pgc {

enum class DType : uint8_t { BF16, F16, F32, F64, I32, I64, U8, Bool };

/// Size of one element in bytes.
size_t dtypeSize(DType dtype);
/// Lower-case name as pgc prints it ("bf16", "f32", "i64", ...).
std::string_view dtypeName(DType dtype);
/// Parses dtypeName()'s spelling; nullopt for an unknown name.
std::optional<DType> parseDType(std::string_view name);
bool isFloat(DType dtype);

/// f32 -> bf16 with round-to-nearest-even; NaN stays a (quiet) NaN.
inline uint16_t f32ToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  uint32_t roundingBias = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

inline float bf16ToF32(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

/// f32 -> IEEE binary16 with round-to-nearest-even, overflow to infinity,
/// gradual underflow to subnormals.
uint16_t f32ToF16(float value);
float f16ToF32(uint16_t value);

/// f64 -> f32 rounded to odd: exact when representable, otherwise the
/// neighbour toward zero with its lowest mantissa bit set. Rounding that f32
/// to bf16 or f16 then equals rounding the f64 directly (no double rounding).
float f64ToF32RoundToOdd(double value);
inline uint16_t f64ToBf16(double value) {
  return f32ToBf16(f64ToF32RoundToOdd(value));
}
inline uint16_t f64ToF16(double value) {
  return f32ToF16(f64ToF32RoundToOdd(value));
}

} // namespace pgc
