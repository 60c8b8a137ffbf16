// The text of DeviceRounding.h's device functions: round to nearest even on
// the bits, NaN kept quiet, f16 subnormals through one scaled rounding, as
// the host functions do operation for operation.
#include "runtime/cuda/kernels/DeviceRounding.h"

namespace pgc::cuda {

const char *deviceFloatRoundingSource() {
  return R"CUDA(
__device__ __forceinline__ unsigned short f32ToBf16(float value) {
  unsigned int bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return (unsigned short)((bits >> 16) | 0x0040u);
  return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ unsigned short f32ToF16(float value) {
  unsigned int bits = __float_as_uint(value);
  unsigned int sign = (bits >> 16) & 0x8000u;
  unsigned int magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return (unsigned short)(sign | 0x7e00u);
  if (magnitude >= 0x477ff000u)
    return (unsigned short)(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    float scaled = __fmul_rn(__uint_as_float(magnitude), 16777216.0f);
    return (unsigned short)(sign | __float2uint_rn(scaled));
  }
  unsigned int result = magnitude - 0x38000000u;
  result = (result + 0x0fffu + ((result >> 13) & 1u)) >> 13;
  return (unsigned short)(sign | result);
}
)CUDA";
}

} // namespace pgc::cuda
