// NF4 quantization, double quantization of the absmax and dequantization,
// matching bitsandbytes' CUDA kernels bit for bit.
#include "runtime/quant/Nf4.h"

#include "runtime/quant/DynamicMap.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>

namespace pgc::quant {
namespace {

bool isValidBlockSize(int64_t blockSize) {
  return blockSize >= 32 && blockSize <= 4096 &&
         (blockSize & (blockSize - 1)) == 0;
}

std::vector<float> valuesAsF32(const Tensor &weight, std::string_view name) {
  std::vector<float> values(static_cast<size_t>(weight.numel()));
  if (weight.dtype() == DType::F32) {
    std::copy_n(weight.data<float>(), values.size(), values.begin());
  } else if (weight.dtype() == DType::BF16) {
    const uint16_t *bits = weight.data<uint16_t>();
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = bf16ToF32(bits[i]);
  } else {
    fail("{}: NF4 quantization needs an f32 or bf16 tensor, got {}", name,
         dtypeName(weight.dtype()));
  }
  return values;
}

} // namespace

const std::array<float, 16> &nf4Codes() {
  static const std::array<float, 16> codes = {-1.0f,
                                              -0.6961928009986877f,
                                              -0.5250730514526367f,
                                              -0.39491748809814453f,
                                              -0.28444138169288635f,
                                              -0.18477343022823334f,
                                              -0.09105003625154495f,
                                              0.0f,
                                              0.07958029955625534f,
                                              0.16093020141124725f,
                                              0.24611230194568634f,
                                              0.33791524171829224f,
                                              0.44070982933044434f,
                                              0.5626170039176941f,
                                              0.7229568362236023f,
                                              1.0f};
  return codes;
}

const std::array<float, 15> &nf4Thresholds() {
  // The float literals of bitsandbytes' CUDA decision tree. They are the
  // midpoints of neighbouring levels, but four of those midpoints fall exactly
  // halfway between two floats, and the kernel's decimal literals break those
  // ties in a way no simple rounding rule reproduces; so the literals are the
  // definition.
  static const std::array<float, 15> thresholds = {
      -0.8480964004993439f,   -0.6106329262256622f,  -0.4599952697753906f,
      -0.33967943489551544f,  -0.23460740596055984f, -0.13791173323988914f,
      -0.045525018125772476f, 0.03979014977812767f,  0.1202552504837513f,
      0.2035212516784668f,    0.2920137718319893f,   0.3893125355243683f,
      0.5016634166240692f,    0.6427869200706482f,   0.8614784181118011f};
  return thresholds;
}

uint8_t quantizeToNf4Index(float x) {
  uint8_t index = 0;
  for (float threshold : nf4Thresholds())
    index += x > threshold ? 1 : 0;
  return index;
}

float Nf4Weight::blockAbsmax(int64_t block) const {
  if (!doubleQuant)
    return absmax.data<float>()[block];
  // Two separately rounded float operations, as bitsandbytes dequantizes the
  // absmax (dequantize_blockwise, then += offset); never a fused multiply-add.
  float scaled = signedDynamicMap()[absmaxCodes.data<uint8_t>()[block]] *
                 absmaxScales.data<float>()[block / kNf4AbsmaxBlockSize];
  return scaled + absmaxOffset;
}

void Nf4Weight::validate(std::string_view name) const {
  if (!isValidBlockSize(blockSize))
    fail("{}: NF4 block size {} must be a power of two in [32, 4096]", name,
         blockSize);
  auto expect = [&](const Tensor &tensor, const char *what, DType dtype,
                    int64_t count) {
    if (!tensor.defined() || tensor.dtype() != dtype || tensor.numel() != count)
      fail("{}: NF4 {} must be {} with {} elements, got {} with {}", name, what,
           dtypeName(dtype), count, dtypeName(tensor.dtype()), tensor.numel());
  };
  expect(packed, "packed data", DType::U8, (numel() + 1) / 2);
  if (doubleQuant) {
    expect(absmaxCodes, "absmax codes", DType::U8, numBlocks());
    expect(absmaxScales, "absmax scales", DType::F32,
           (numBlocks() + kNf4AbsmaxBlockSize - 1) / kNf4AbsmaxBlockSize);
  } else {
    expect(absmax, "absmax", DType::F32, numBlocks());
  }
}

Nf4Weight quantizeNf4(const Tensor &weight, const Nf4Options &options,
                      std::string_view name) {
  Nf4Weight result;
  result.shape = weight.shape();
  result.sourceDType = weight.dtype();
  result.blockSize = options.blockSize;
  result.doubleQuant = options.doubleQuant;
  if (!isValidBlockSize(options.blockSize))
    fail("{}: NF4 block size {} must be a power of two in [32, 4096]", name,
         options.blockSize);
  std::vector<float> values = valuesAsF32(weight, name);
  int64_t count = weight.numel();
  int64_t numBlocks = result.numBlocks();

  std::vector<float> absmax(static_cast<size_t>(numBlocks));
  std::vector<uint8_t> indices(static_cast<size_t>(count + 1), 0);
  for (int64_t block = 0; block < numBlocks; ++block) {
    int64_t begin = block * options.blockSize;
    int64_t end = std::min(count, begin + options.blockSize);
    float blockMax = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      blockMax = std::fmax(blockMax, std::fabs(values[i]));
    absmax[block] = blockMax;
    // The kernel multiplies by the float reciprocal; for an all-zero block
    // that is 0 * inf = NaN, which the decision tree sends to index 0.
    float reciprocal = 1.0f / blockMax;
    for (int64_t i = begin; i < end; ++i)
      indices[i] = quantizeToNf4Index(values[i] * reciprocal);
    if (end == count && count % 2 == 1)
      indices[count] = quantizeToNf4Index(0.0f * reciprocal);
  }

  result.packed = Tensor(DType::U8, {(count + 1) / 2});
  uint8_t *packed = result.packed.data<uint8_t>();
  for (int64_t j = 0; j < (count + 1) / 2; ++j)
    packed[j] =
        static_cast<uint8_t>((indices[2 * j] << 4) | indices[2 * j + 1]);

  if (!options.doubleQuant) {
    result.absmax = Tensor(DType::F32, {numBlocks});
    std::copy(absmax.begin(), absmax.end(), result.absmax.data<float>());
    return result;
  }
  // bitsandbytes takes the float32 mean with torch; we sum in double and
  // round once, which can differ from torch's reduction order in the last bit.
  double sum = 0.0;
  for (float value : absmax)
    sum += value;
  result.absmaxOffset =
      numBlocks == 0 ? 0.0f : static_cast<float>(sum / numBlocks);
  std::vector<float> centered(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i)
    centered[i] = absmax[i] - result.absmaxOffset;
  Blockwise8Bit second =
      quantizeBlockwise8Bit(centered.data(), numBlocks, kNf4AbsmaxBlockSize);
  result.absmaxCodes = Tensor(DType::U8, {numBlocks});
  std::copy(second.indices.begin(), second.indices.end(),
            result.absmaxCodes.data<uint8_t>());
  result.absmaxScales =
      Tensor(DType::F32, {static_cast<int64_t>(second.scales.size())});
  std::copy(second.scales.begin(), second.scales.end(),
            result.absmaxScales.data<float>());
  return result;
}

Tensor dequantizeNf4(const Nf4Weight &weight, DType dtype) {
  weight.validate("dequantize_nf4");
  if (dtype != DType::F32 && dtype != DType::BF16)
    fail("dequantize_nf4: output dtype {} is not f32 or bf16",
         dtypeName(dtype));
  const std::array<float, 16> &codes = nf4Codes();
  const uint8_t *packed = weight.packed.data<uint8_t>();
  Tensor out(dtype, weight.shape);
  int64_t count = weight.numel();
  for (int64_t block = 0; block < weight.numBlocks(); ++block) {
    float absmax = weight.blockAbsmax(block);
    int64_t begin = block * weight.blockSize;
    int64_t end = std::min(count, begin + weight.blockSize);
    for (int64_t i = begin; i < end; ++i) {
      uint8_t byte = packed[i / 2];
      uint8_t index = i % 2 == 0 ? byte >> 4 : byte & 0x0F;
      float value = codes[index] * absmax;
      if (dtype == DType::F32)
        out.data<float>()[i] = value;
      else
        out.data<uint16_t>()[i] = f32ToBf16(value);
    }
  }
  return out;
}

} // namespace pgc::quant
