// Builds bitsandbytes' signed dynamic map and quantizes blocks to it,
// reproducing the float32 arithmetic of the original.
#include "runtime/quant/DynamicMap.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>

namespace pgc::quant {
namespace {

/// torch.linspace(start, end, steps) for float32 on the CPU: the first half
/// counts up from `start`, the second half counts down from `end`, with a
/// float step, so both ends are exact.
std::vector<float> linspaceF32(float start, float end, int steps) {
  std::vector<float> values(steps);
  float step = (end - start) / static_cast<float>(steps - 1);
  int halfway = steps / 2;
  for (int i = 0; i < steps; ++i)
    values[i] = i < halfway ? start + step * static_cast<float>(i)
                            : end - step * static_cast<float>(steps - i - 1);
  return values;
}

std::array<float, 256> buildSignedDynamicMap() {
  // The published construction: for each "exponent" e = 0..6 the interval
  // [0.1, 1] is split into 2^e equal parts; the part midpoints scaled by
  // 10^(e-6) become codes of both signs. With 7 bits besides the sign there
  // are no extra linear items; 0 and 1.0 complete the 256 values.
  constexpr int maxExponentBits = 7;
  std::vector<float> data;
  for (int e = 0; e < maxExponentBits; ++e) {
    int fractionItems = (1 << e) + 1;
    std::vector<float> boundaries = linspaceF32(0.1f, 1.0f, fractionItems);
    // torch multiplies a float32 tensor by a Python scalar in float32.
    float scale = static_cast<float>(std::pow(10.0, e - (maxExponentBits - 1)));
    for (int k = 0; k + 1 < fractionItems; ++k) {
      float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
      data.push_back(scale * mean);
      data.push_back(-scale * mean);
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  if (data.size() != 256)
    fail("dynamic map: built {} values instead of 256", data.size());
  std::sort(data.begin(), data.end());
  std::array<float, 256> code;
  std::copy(data.begin(), data.end(), code.begin());
  return code;
}

} // namespace

const std::array<float, 256> &signedDynamicMap() {
  static const std::array<float, 256> code = buildSignedDynamicMap();
  return code;
}

uint8_t quantizeToDynamicIndex(const std::array<float, 256> &code, float x) {
  // Binary search over indices 0..254 (pivot 127, steps 64..1). It keeps the
  // nearest visited neighbour on each side; the final choice compares with
  // the float midpoint exactly as the CUDA kernel does, so results agree
  // bit for bit including values on a midpoint.
  int pivot = 127;
  int upperPivot = 255;
  int lowerPivot = 0;
  float lower = -1.0f;
  float upper = 1.0f;
  float value = code[pivot];
  for (int step = 64; step > 0; step >>= 1) {
    if (x > value) {
      lowerPivot = pivot;
      lower = value;
      pivot += step;
    } else {
      upperPivot = pivot;
      upper = value;
      pivot -= step;
    }
    value = code[pivot];
  }
  if (upperPivot == 255)
    upper = code[255];
  if (lowerPivot == 0)
    lower = code[0];
  if (x > value) {
    float midpoint = (upper + value) * 0.5f;
    return static_cast<uint8_t>(x > midpoint ? upperPivot : pivot);
  }
  float midpoint = (lower + value) * 0.5f;
  return static_cast<uint8_t>(x < midpoint ? lowerPivot : pivot);
}

Blockwise8Bit quantizeBlockwise8Bit(const float *values, int64_t count,
                                    int64_t blockSize) {
  if (blockSize <= 0)
    fail("blockwise 8-bit quantization: block size {} must be positive",
         blockSize);
  const std::array<float, 256> &code = signedDynamicMap();
  Blockwise8Bit result;
  result.blockSize = blockSize;
  result.indices.resize(static_cast<size_t>(count));
  int64_t numBlocks = (count + blockSize - 1) / blockSize;
  result.scales.resize(static_cast<size_t>(numBlocks));
  for (int64_t block = 0; block < numBlocks; ++block) {
    int64_t begin = block * blockSize;
    int64_t end = std::min(count, begin + blockSize);
    float scale = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      scale = std::fmax(scale, std::fabs(values[i]));
    result.scales[block] = scale;
    // Multiplying by the float reciprocal (not dividing) is what makes the
    // indices match bitsandbytes'.
    float reciprocal = 1.0f / scale;
    for (int64_t i = begin; i < end; ++i)
      result.indices[i] = quantizeToDynamicIndex(code, values[i] * reciprocal);
  }
  return result;
}

float dequantizeBlockwise8BitAt(const Blockwise8Bit &quantized, int64_t i) {
  return signedDynamicMap()[quantized.indices[i]] *
         quantized.scales[i / quantized.blockSize];
}

} // namespace pgc::quant
