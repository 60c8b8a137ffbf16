// NF4 dequantization on the GPU, written to reproduce the CPU reference
// (runtime/quant) bit for bit.
#include "runtime/cuda/kernels/Nf4Dequantize.h"

#include "runtime/support/Error.h"

#include <algorithm>

namespace pgc::cuda {
namespace {

// A thread turns 4 packed bytes (8 values) into one 16-byte store, so a warp
// reads 128 contiguous bytes and writes 512. Each thread takes kUnroll such
// groups a grid stride apart per round and loads the next round's packed
// bytes and absmax before it computes and stores this round's. Groups of 8
// values never straddle an absmax block because the block size is a power of
// two of at least 8. The multiply and add of the absmax use
// __fmul_rn/__fadd_rn: NVRTC would otherwise contract them into an FMA and
// differ from the reference in the last bit.
//
// The kernel is instruction-bound before it is memory-bound (on an H200 it
// first took 1.8x the time of a memset of its output): every value costs a
// nibble extract, a shared-memory level lookup and a multiply, so the bf16
// rounding must be cheap. cvt.rn.bf16x2.f32 rounds two floats to nearest even
// and packs them in one instruction (sm_80 and newer), the same rounding as
// pgc::f32ToBf16 for every non-NaN value, subnormals and overflow to
// infinity included. A NaN comes out as 0x7fff, as it did from the bit
// arithmetic before: the GPU's multiply already returns the canonical NaN.
const char *const kSource = R"CUDA(
__device__ __constant__ float kNf4Levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
    0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};

// bf16 of `lower` in bits 0-15 (the lower address), of `upper` in 16-31.
__device__ __forceinline__ unsigned int packBf16x2(float lower, float upper) {
  unsigned int packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(upper), "f"(lower));
  return packed;
}

__device__ __forceinline__ unsigned short bf16Bits(float value) {
  unsigned short bits;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(value));
  return bits;
}

// The values of byte `byteIndex` of `word`: element 2j is the high nibble
// and lives at the lower address.
__device__ __forceinline__ unsigned int twoValues(const float *levels,
                                                  unsigned int word,
                                                  int byteIndex, float absmax) {
  int shift = 8 * byteIndex;
  float first = __fmul_rn(levels[(word >> (shift + 4)) & 15u], absmax);
  float second = __fmul_rn(levels[(word >> shift) & 15u], absmax);
  return packBf16x2(first, second);
}

template <bool kNested>
__device__ __forceinline__ void dequantize(
    const unsigned char *__restrict__ packed, const float *__restrict__ absmax,
    const unsigned char *__restrict__ absmaxCodes,
    const float *__restrict__ absmaxScales, const float *__restrict__ dynamicMap,
    float absmaxOffset, unsigned short *__restrict__ out, long long numel,
    int blockShift) {
  __shared__ float levels[16];
  if (threadIdx.x < 16)
    levels[threadIdx.x] = kNf4Levels[threadIdx.x];
  __syncthreads();
  auto blockAbsmax = [&](long long block) {
    if (!kNested)
      return __ldg(absmax + block);
    return __fadd_rn(__fmul_rn(__ldg(dynamicMap + __ldg(absmaxCodes + block)),
                               __ldg(absmaxScales + (block >> 8))),
                     absmaxOffset);
  };
  const int kUnroll = 4;
  long long groups = numel / 8;
  long long stride = (long long)gridDim.x * blockDim.x;
  long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned int *words = reinterpret_cast<const unsigned int *>(packed);
  uint4 *out16 = reinterpret_cast<uint4 *>(out);
  // Software pipeline: the next round's loads are in flight while this
  // round's values are computed and stored.
  unsigned int four[kUnroll];
  float scale[kUnroll];
  auto fetch = [&](long long at) {
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      four[k] = __ldg(words + at + k * stride);
      scale[k] = blockAbsmax(((at + k * stride) * 8) >> blockShift);
    }
  };
  bool full = g + (kUnroll - 1) * stride < groups;
  if (full)
    fetch(g);
  while (full) {
    unsigned int current[kUnroll];
    float currentScale[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      current[k] = four[k];
      currentScale[k] = scale[k];
    }
    long long at = g;
    g += kUnroll * stride;
    full = g + (kUnroll - 1) * stride < groups;
    if (full)
      fetch(g);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      uint4 result;
      result.x = twoValues(levels, current[k], 0, currentScale[k]);
      result.y = twoValues(levels, current[k], 1, currentScale[k]);
      result.z = twoValues(levels, current[k], 2, currentScale[k]);
      result.w = twoValues(levels, current[k], 3, currentScale[k]);
      out16[at + k * stride] = result;
    }
  }
  for (; g < groups; g += stride) {
    float scale = blockAbsmax((g * 8) >> blockShift);
    unsigned int four = __ldg(words + g);
    uint4 result;
    result.x = twoValues(levels, four, 0, scale);
    result.y = twoValues(levels, four, 1, scale);
    result.z = twoValues(levels, four, 2, scale);
    result.w = twoValues(levels, four, 3, scale);
    out16[g] = result;
  }
  // Fewer than 8 values remain at the end; the first threads take them.
  long long i = groups * 8 + (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < numel) {
    unsigned int byte = packed[i >> 1];
    unsigned int index = (i & 1) ? (byte & 15u) : (byte >> 4);
    out[i] = bf16Bits(
        __fmul_rn(levels[index], blockAbsmax(i >> blockShift)));
  }
}

extern "C" __global__ void __launch_bounds__(256, 6) pgc_nf4_dequantize_bf16(
    const unsigned char *packed, const float *absmax, unsigned short *out,
    long long numel, int blockShift) {
  dequantize<false>(packed, absmax, nullptr, nullptr, nullptr, 0.0f, out,
                    numel, blockShift);
}

extern "C" __global__ void __launch_bounds__(256, 6) pgc_nf4_dequantize_bf16_nested(
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
  // One wave of resident blocks that loop, so the pipeline in the kernel
  // overlaps loads with stores: __launch_bounds__(256, 6) holds the kernels
  // to 40 registers, so 6 blocks of 256 are resident per SM. A small tensor
  // gets one round of 4 groups per thread.
  const int threads = 256, groupsPerThread = 4, blocksPerSm = 6;
  int64_t groups = weight.numel / 8;
  const DeviceInfo &device = stream.context().info();
  int64_t wanted =
      std::max<int64_t>(1, (groups + threads * groupsPerThread - 1) /
                               (threads * groupsPerThread));
  unsigned blocks = static_cast<unsigned>(
      std::min<int64_t>(wanted, int64_t(device.multiprocessors) * blocksPerSm));
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
