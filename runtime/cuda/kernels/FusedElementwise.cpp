// GeGLU as one fused bf16 kernel: loads two bf16 streams, computes in f32,
// stores bf16.
#include "runtime/cuda/kernels/FusedElementwise.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>

namespace pgc::cuda {
namespace {

// Gemma's MLP gate: gelu with the tanh approximation (sqrt(2/pi) and 0.044715
// as in the reference implementation), times the up projection.
const char *const kSource = R"CUDA(
__device__ __forceinline__ float fromBf16(unsigned int bits16) {
  return __uint_as_float(bits16 << 16);
}

__device__ __forceinline__ unsigned int bf16Bits(float value) {
  unsigned int bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return ((bits >> 16) | 0x0040u) & 0xffffu;
  return (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
}

__device__ __forceinline__ float geglu(float gate, float up) {
  const float kSqrt2OverPi = 0.7978845608028654f;
  float inner = kSqrt2OverPi * (gate + 0.044715f * gate * gate * gate);
  return 0.5f * gate * (1.0f + tanhf(inner)) * up;
}

__device__ __forceinline__ unsigned int gegluPair(unsigned int gate,
                                                  unsigned int up) {
  unsigned int low = bf16Bits(geglu(fromBf16(gate & 0xffffu),
                                    fromBf16(up & 0xffffu)));
  unsigned int high = bf16Bits(geglu(fromBf16(gate >> 16), fromBf16(up >> 16)));
  return low | (high << 16);
}

extern "C" __global__ void pgc_geglu_bf16(const unsigned short *__restrict__ gate,
                                          const unsigned short *__restrict__ up,
                                          unsigned short *__restrict__ out,
                                          long long n) {
  long long vectors = n / 8;
  long long stride = (long long)gridDim.x * blockDim.x;
  long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const uint4 *gate16 = reinterpret_cast<const uint4 *>(gate);
  const uint4 *up16 = reinterpret_cast<const uint4 *>(up);
  uint4 *out16 = reinterpret_cast<uint4 *>(out);
  for (long long v = first; v < vectors; v += stride) {
    uint4 g = gate16[v], u = up16[v], r;
    r.x = gegluPair(g.x, u.x);
    r.y = gegluPair(g.y, u.y);
    r.z = gegluPair(g.z, u.z);
    r.w = gegluPair(g.w, u.w);
    out16[v] = r;
  }
  long long i = vectors * 8 + first;
  if (i < n)
    out[i] = (unsigned short)bf16Bits(geglu(fromBf16(gate[i]), fromBf16(up[i])));
}
)CUDA";

} // namespace

const KernelSource &gegluSource() {
  static const KernelSource source{"geglu.cu", kSource, {}};
  return source;
}

Tensor gegluReference(const Tensor &gate, const Tensor &up) {
  if (gate.dtype() != DType::BF16 || up.dtype() != DType::BF16 ||
      gate.shape() != up.shape())
    fail("geglu reference: gate {} {} and up {} {} must be bf16 of one shape",
         dtypeName(gate.dtype()), formatShape(gate.shape()),
         dtypeName(up.dtype()), formatShape(up.shape()));
  Tensor out(DType::BF16, gate.shape());
  const uint16_t *g = gate.data<uint16_t>();
  const uint16_t *u = up.data<uint16_t>();
  uint16_t *o = out.data<uint16_t>();
  const float sqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < gate.numel(); ++i) {
    float x = bf16ToF32(g[i]);
    float inner = sqrt2OverPi * (x + 0.044715f * x * x * x);
    o[i] = f32ToBf16(0.5f * x * (1.0f + std::tanh(inner)) * bf16ToF32(u[i]));
  }
  return out;
}

void launchGeglu(const Module &module, const Stream &stream,
                 api::CUdeviceptr gate, api::CUdeviceptr up,
                 api::CUdeviceptr out, int64_t count) {
  if (gate % 16 || up % 16 || out % 16)
    fail("geglu: operands must be 16-byte aligned");
  const int threads = 256;
  int64_t wanted = std::max<int64_t>(1, (count / 8 + threads - 1) / threads);
  LaunchShape shape;
  shape.gridX = static_cast<unsigned>(std::min<int64_t>(
      wanted, int64_t(stream.context().info().multiprocessors) * 16));
  shape.blockX = threads;
  long long n = count;
  void *arguments[] = {&gate, &up, &out, &n};
  launchKernel(stream, module.function("pgc_geglu_bf16"), shape, arguments,
               "pgc_geglu_bf16");
}

} // namespace pgc::cuda
