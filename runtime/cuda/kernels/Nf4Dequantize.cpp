// NF4 dequantization on the GPU, written to reproduce the CPU reference
// (runtime/quant) bit for bit.
#include "runtime/cuda/kernels/Nf4Dequantize.h"

#include "runtime/support/Error.h"

#include <algorithm>

namespace pgc::cuda {
namespace {

// Each thread turns 4 packed bytes (8 values) into one 16-byte store, so a
// warp reads 128 contiguous bytes and writes 512. Blocks of 8 values never
// straddle an absmax block because every valid block size is a multiple of
// 32. The multiply and add of the absmax use __fmul_rn/__fadd_rn: NVRTC would
// otherwise contract them into an FMA and differ from the reference in the
// last bit. bf16 rounding is done on the bits (round to nearest even, NaN
// kept quiet) exactly as pgc::f32ToBf16 does.
const char *const kSource = R"CUDA(
__device__ __constant__ float kNf4Levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
    0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};

__device__ __forceinline__ unsigned int bf16Bits(float value) {
  unsigned int bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return ((bits >> 16) | 0x0040u) & 0xffffu;
  return (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
}

__device__ __forceinline__ unsigned int twoValues(const float *levels,
                                                  unsigned int byte,
                                                  float absmax) {
  unsigned int high = bf16Bits(__fmul_rn(levels[byte >> 4], absmax));
  unsigned int low = bf16Bits(__fmul_rn(levels[byte & 15u], absmax));
  // Element 2j (high nibble) lives at the lower address.
  return high | (low << 16);
}

template <bool kNested>
__device__ __forceinline__ void dequantize(
    const unsigned char *__restrict__ packed, const float *__restrict__ absmax,
    const unsigned char *__restrict__ absmaxCodes,
    const float *__restrict__ absmaxScales, const float *__restrict__ dynamicMap,
    float absmaxOffset, unsigned short *__restrict__ out, long long numel,
    int blockShift) {
  __shared__ float levels[16];
  __shared__ float code8[256];
  if (threadIdx.x < 16)
    levels[threadIdx.x] = kNf4Levels[threadIdx.x];
  if (kNested)
    for (int i = threadIdx.x; i < 256; i += blockDim.x)
      code8[i] = dynamicMap[i];
  __syncthreads();
  auto blockAbsmax = [&](long long block) {
    if (!kNested)
      return absmax[block];
    return __fadd_rn(__fmul_rn(code8[absmaxCodes[block]],
                               absmaxScales[block >> 8]),
                     absmaxOffset);
  };
  long long groups = numel / 8;
  long long stride = (long long)gridDim.x * blockDim.x;
  long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned int *words = reinterpret_cast<const unsigned int *>(packed);
  uint4 *out16 = reinterpret_cast<uint4 *>(out);
  for (long long g = first; g < groups; g += stride) {
    float scale = blockAbsmax((g * 8) >> blockShift);
    unsigned int four = __ldg(words + g);
    uint4 result;
    result.x = twoValues(levels, four & 0xffu, scale);
    result.y = twoValues(levels, (four >> 8) & 0xffu, scale);
    result.z = twoValues(levels, (four >> 16) & 0xffu, scale);
    result.w = twoValues(levels, four >> 24, scale);
    out16[g] = result;
  }
  // Fewer than 8 values remain at the end; the first threads take them.
  long long i = groups * 8 + first;
  if (i < numel) {
    unsigned int byte = packed[i >> 1];
    unsigned int index = (i & 1) ? (byte & 15u) : (byte >> 4);
    out[i] = (unsigned short)bf16Bits(
        __fmul_rn(levels[index], blockAbsmax(i >> blockShift)));
  }
}

extern "C" __global__ void pgc_nf4_dequantize_bf16(
    const unsigned char *packed, const float *absmax, unsigned short *out,
    long long numel, int blockShift) {
  dequantize<false>(packed, absmax, nullptr, nullptr, nullptr, 0.0f, out,
                    numel, blockShift);
}

extern "C" __global__ void pgc_nf4_dequantize_bf16_nested(
    const unsigned char *packed, const unsigned char *absmaxCodes,
    const float *absmaxScales, const float *dynamicMap, float absmaxOffset,
    unsigned short *out, long long numel, int blockShift) {
  dequantize<true>(packed, nullptr, absmaxCodes, absmaxScales, dynamicMap,
                   absmaxOffset, out, numel, blockShift);
}
)CUDA";

} // namespace

const KernelSource &nf4DequantizeSource() {
  static const KernelSource source{"nf4_dequantize.cu", kSource, {}};
  return source;
}

void launchNf4Dequantize(const Module &module, const Stream &stream,
                         const DeviceNf4Weight &weight,
                         api::CUdeviceptr outputBf16) {
  if (weight.blockSize < 8 || (weight.blockSize & (weight.blockSize - 1)))
    fail("nf4 dequantize: block size {} is not a power of two of at least 8",
         weight.blockSize);
  int blockShift = 0;
  while ((int64_t(1) << blockShift) < weight.blockSize)
    ++blockShift;
  if (outputBf16 % 16 != 0 || weight.packed % 4 != 0)
    fail("nf4 dequantize: output must be 16-byte and packed data 4-byte "
         "aligned");
  const int threads = 256;
  int64_t groups = weight.numel / 8;
  const DeviceInfo &device = stream.context().info();
  int64_t wanted = std::max<int64_t>(1, (groups + threads - 1) / threads);
  unsigned blocks = static_cast<unsigned>(
      std::min<int64_t>(wanted, int64_t(device.multiprocessors) * 16));
  LaunchShape shape;
  shape.gridX = blocks;
  shape.blockX = threads;
  long long numel = weight.numel;
  api::CUdeviceptr packed = weight.packed, output = outputBf16;
  if (weight.doubleQuant) {
    api::CUdeviceptr codes = weight.absmaxCodes, scales = weight.absmaxScales,
                     map = weight.dynamicMap;
    float offset = weight.absmaxOffset;
    void *arguments[] = {&packed, &codes,  &scales, &map,
                         &offset, &output, &numel,  &blockShift};
    launchKernel(stream, module.function("pgc_nf4_dequantize_bf16_nested"),
                 shape, arguments, "pgc_nf4_dequantize_bf16_nested");
  } else {
    api::CUdeviceptr absmax = weight.absmax;
    void *arguments[] = {&packed, &absmax, &output, &numel, &blockShift};
    launchKernel(stream, module.function("pgc_nf4_dequantize_bf16"), shape,
                 arguments, "pgc_nf4_dequantize_bf16");
  }
}

} // namespace pgc::cuda
