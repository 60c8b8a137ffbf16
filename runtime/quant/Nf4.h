// The CPU reference of bitsandbytes NF4: 4-bit NormalFloat codes, blockwise
// absmax, double quantization, packing.
#pragma once

#include "runtime/support/Tensor.h"

#include <array>
#include <cstdint>
#include <string_view>

namespace pgc::quant {

/// The 16 NF4 levels in index order (bitsandbytes `get_4bit_type("nf4")`).
const std::array<float, 16> &nf4Codes();

/// The 15 decision thresholds between neighbouring NF4 levels, as the float
/// literals of bitsandbytes' CUDA `dQuantizeNF4`: each is a float nearest to
/// the midpoint of two adjacent levels.
const std::array<float, 15> &nf4Thresholds();

/// NF4 index of a value already scaled to [-1, 1]: the number of thresholds
/// that `x` is strictly greater than. This is what the CUDA decision tree
/// computes, so a value exactly on a midpoint goes to the lower level and
/// NaN goes to index 0.
uint8_t quantizeToNf4Index(float x);

/// The absmax second level used by double quantization: 256 first-level
/// absmax values share one float scale and one 8-bit dynamic-map index each.
constexpr int64_t kNf4AbsmaxBlockSize = 256;

/// A weight in bitsandbytes' NF4 layout. The flattened row-major values are
/// cut into blocks of `blockSize`; element 2j is the high nibble and element
/// 2j+1 the low nibble of packed byte j. With an odd count the last low nibble
/// holds the code of 0.0 (as the CUDA kernel pads the block with zeros).
struct Nf4Weight {
  Shape shape; // of the original weight
  DType sourceDType = DType::F32;
  int64_t blockSize = 64;
  Tensor packed; // U8 [(numel + 1) / 2]
  bool doubleQuant = false;
  Tensor absmax;             // F32 [numBlocks] when !doubleQuant
  Tensor absmaxCodes;        // U8 [numBlocks] when doubleQuant
  Tensor absmaxScales;       // F32 [ceil(numBlocks / 256)] when doubleQuant
  float absmaxOffset = 0.0f; // mean of the absmax values, when doubleQuant

  int64_t numel() const { return pgc::numElements(shape); }
  int64_t numBlocks() const { return (numel() + blockSize - 1) / blockSize; }
  /// Absmax of block b as the dequantizer sees it (resolving double quant):
  /// code8[absmaxCodes[b]] * absmaxScales[b / 256] + absmaxOffset, each
  /// operation rounded to float.
  float blockAbsmax(int64_t block) const;
  /// Throws pgc::Error naming `name` when sizes or dtypes do not agree.
  void validate(std::string_view name) const;
};

struct Nf4Options {
  int64_t blockSize = 64;
  bool doubleQuant = true;
};

/// Quantizes an f32 or bf16 tensor. `name` is used in error messages.
Nf4Weight quantizeNf4(const Tensor &weight, const Nf4Options &options,
                      std::string_view name);

/// w = code[index] * absmax[block] in float32, then (for bf16) rounded to
/// nearest even. `dtype` is F32 or BF16.
Tensor dequantizeNf4(const Nf4Weight &weight, DType dtype);

} // namespace pgc::quant
