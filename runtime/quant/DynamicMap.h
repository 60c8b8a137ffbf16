// bitsandbytes' signed 8-bit "dynamic" map and the blockwise 8-bit quantization
// that double-quantized NF4 uses for its absmax.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace pgc::quant {

/// The 256 sorted code values of bitsandbytes' `create_dynamic_map(signed=True,
/// max_exponent_bits=7, total_bits=8)`: 127 negative values, 0, 127 positive
/// values below 1 and 1.0. Built in float32 the way torch evaluates the
/// published construction (linspace, means of neighbours, power-of-ten scale).
const std::array<float, 256> &signedDynamicMap();

/// Index of the code value nearest to `x` (already scaled to [-1, 1]), chosen
/// with the same 7-step binary search and float midpoint test as
/// bitsandbytes' CUDA `dQuantize<0>`, so that ties and out-of-range values
/// land where they land there. NaN maps to index 0.
uint8_t quantizeToDynamicIndex(const std::array<float, 256> &code, float x);

/// Blockwise 8-bit quantization as bitsandbytes' `quantize_blockwise` does it:
/// per block, scale = max|x|, index = nearest code of x * (1 / scale).
struct Blockwise8Bit {
  std::vector<uint8_t> indices;
  std::vector<float> scales; // one per block of `blockSize` values
  int64_t blockSize = 256;
};

Blockwise8Bit quantizeBlockwise8Bit(const float *values, int64_t count,
                                    int64_t blockSize);

/// code[indices[i]] * scales[i / blockSize], in float32.
float dequantizeBlockwise8BitAt(const Blockwise8Bit &quantized, int64_t i);

} // namespace pgc::quant
