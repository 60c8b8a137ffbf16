// The text of the CUDA device helpers of CudaElementwiseHelpers.h.
#include "compiler/Codegen/CudaElementwiseHelpers.h"

namespace pgc::codegen {

const Helper kHelpers[] = {
    {"pgc_max_f32", nullptr, R"CUDA(
// Max and min propagate NaN as runtime/cpu/Elementwise.cpp's applyFloat does.
static __device__ __forceinline__ float pgc_max_f32(float a, float b) {
  return (isnan(a) || isnan(b)) ? __fadd_rn(a, b) : (a > b ? a : b);
}
)CUDA"},
    {"pgc_min_f32", nullptr, R"CUDA(
static __device__ __forceinline__ float pgc_min_f32(float a, float b) {
  return (isnan(a) || isnan(b)) ? __fadd_rn(a, b) : (a < b ? a : b);
}
)CUDA"},
    {"pgc_max_f64", nullptr, R"CUDA(
static __device__ __forceinline__ double pgc_max_f64(double a, double b) {
  return (isnan(a) || isnan(b)) ? __dadd_rn(a, b) : (a > b ? a : b);
}
)CUDA"},
    {"pgc_min_f64", nullptr, R"CUDA(
static __device__ __forceinline__ double pgc_min_f64(double a, double b) {
  return (isnan(a) || isnan(b)) ? __dadd_rn(a, b) : (a < b ? a : b);
}
)CUDA"},
    {"pgc_div_i32", nullptr, R"CUDA(
// Integer division truncates toward zero and x / -1 wraps (applyInt). The CPU
// throws on a zero divisor before computing anything; a kernel cannot, and
// yields 0 there.
static __device__ __forceinline__ int pgc_div_i32(int a, int b) {
  return b == 0 ? 0 : b == -1 ? (int)(0u - (unsigned int)a) : a / b;
}
)CUDA"},
    {"pgc_div_i64", nullptr, R"CUDA(
static __device__ __forceinline__ long long pgc_div_i64(long long a,
                                                        long long b) {
  return b == 0 ? 0
         : b == -1 ? (long long)(0ull - (unsigned long long)a)
                   : a / b;
}
)CUDA"},
    {"pgc_div_u8", nullptr, R"CUDA(
static __device__ __forceinline__ unsigned char pgc_div_u8(unsigned char a,
                                                           unsigned char b) {
  return b == 0 ? (unsigned char)0 : (unsigned char)(a / b);
}
)CUDA"},
    {"pgc_to_i32", nullptr, R"CUDA(
// Float to integer truncates toward zero, NaN gives 0 and the rest saturate
// (runtime/cpu/Cast.cpp's truncateSaturating, on the exact double value).
static __device__ __forceinline__ int pgc_to_i32(double v) {
  if (isnan(v))
    return 0;
  double t = trunc(v);
  if (t >= 2147483648.0)
    return 2147483647;
  if (t < -2147483648.0)
    return -2147483647 - 1;
  return (int)t;
}
)CUDA"},
    {"pgc_to_i64", nullptr, R"CUDA(
static __device__ __forceinline__ long long pgc_to_i64(double v) {
  if (isnan(v))
    return 0;
  double t = trunc(v);
  if (t >= 9223372036854775808.0)
    return 9223372036854775807ll;
  if (t < -9223372036854775808.0)
    return -9223372036854775807ll - 1;
  return (long long)t;
}
)CUDA"},
    {"pgc_to_u8", nullptr, R"CUDA(
static __device__ __forceinline__ unsigned char pgc_to_u8(double v) {
  if (isnan(v))
    return 0;
  double t = trunc(v);
  if (t >= 256.0)
    return 255;
  if (t < 0.0)
    return 0;
  return (unsigned char)t;
}
)CUDA"},
    {"pgc_exp_poly_f32", nullptr, R"CUDA(
// runtime/cpu/Elementwise.cpp's expFloat, operation for operation: f32
// gelu_tanh and its gradient are defined through it, so copying it makes them
// bit-exact. std::max(x, lo) is (x < lo ? lo : x) and std::min(x, hi) is
// (hi < x ? hi : x), which also decides what a NaN does.
static __device__ __forceinline__ float pgc_exp_poly_f32(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = 88.0f < x ? 88.0f : x;
  float n = floorf(__fadd_rn(__fmul_rn(x, 1.44269504088896341f), 0.5f));
  float r = __fsub_rn(x, __fmul_rn(n, 0.693359375f));
  r = __fsub_rn(r, __fmul_rn(n, -2.12194440e-4f));
  float p = 1.9875691500e-4f;
  p = __fadd_rn(__fmul_rn(p, r), 1.3981999507e-3f);
  p = __fadd_rn(__fmul_rn(p, r), 8.3334519073e-3f);
  p = __fadd_rn(__fmul_rn(p, r), 4.1665795894e-2f);
  p = __fadd_rn(__fmul_rn(p, r), 1.6666665459e-1f);
  p = __fadd_rn(__fmul_rn(p, r), 5.0000001201e-1f);
  p = __fadd_rn(__fadd_rn(__fmul_rn(__fmul_rn(p, r), r), r), 1.0f);
  return __fmul_rn(p, __int_as_float(((int)n + 127) << 23));
}
)CUDA"},
    {"pgc_gelu_tanh_f32", "pgc_exp_poly_f32", R"CUDA(
// geluTanhFloat: x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3).
static __device__ __forceinline__ float pgc_gelu_tanh_f32(float x) {
  const float c = 0.79788456080286535588f, a = 0.044715f;
  float u = __fmul_rn(c, __fadd_rn(x, __fmul_rn(__fmul_rn(__fmul_rn(a, x), x), x)));
  return __fdiv_rn(x, __fadd_rn(1.0f, pgc_exp_poly_f32(__fmul_rn(-2.0f, u))));
}
)CUDA"},
    {"pgc_gelu_tanh_grad_f32", "pgc_exp_poly_f32", R"CUDA(
// geluTanhGradFloat: s + 2 x s (1 - s) u'(x) with s = 1 / (1 + e^(-2u)).
static __device__ __forceinline__ float pgc_gelu_tanh_grad_f32(float x) {
  const float c = 0.79788456080286535588f, a = 0.044715f;
  float u = __fmul_rn(c, __fadd_rn(x, __fmul_rn(__fmul_rn(__fmul_rn(a, x), x), x)));
  float s = __fdiv_rn(1.0f, __fadd_rn(1.0f, pgc_exp_poly_f32(__fmul_rn(-2.0f, u))));
  float slope = __fadd_rn(1.0f, __fmul_rn(__fmul_rn(__fmul_rn(3.0f, a), x), x));
  float t = __fmul_rn(__fmul_rn(__fmul_rn(__fmul_rn(2.0f, x), s), __fsub_rn(1.0f, s)), c);
  return __fadd_rn(s, __fmul_rn(t, slope));
}
)CUDA"},
    {"pgc_gelu_tanh_f64", nullptr, R"CUDA(
// geluTanhValue<double>: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
static __device__ __forceinline__ double pgc_gelu_tanh_f64(double x) {
  const double c = 0.79788456080286535588, a = 0.044715;
  double inner = __dmul_rn(c, __dadd_rn(x, __dmul_rn(__dmul_rn(__dmul_rn(a, x), x), x)));
  return __dmul_rn(__dmul_rn(0.5, x), __dadd_rn(1.0, tanh(inner)));
}
)CUDA"},
    {"pgc_gelu_tanh_grad_f64", nullptr, R"CUDA(
// geluTanhGrad's f64 derivative:
// 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3)).
static __device__ __forceinline__ double pgc_gelu_tanh_grad_f64(double x) {
  const double c = 0.79788456080286535588, a = 0.044715;
  double t = tanh(__dmul_rn(c, __dadd_rn(x, __dmul_rn(__dmul_rn(__dmul_rn(a, x), x), x))));
  double left = __dmul_rn(0.5, __dadd_rn(1.0, t));
  double slope = __dadd_rn(1.0, __dmul_rn(__dmul_rn(__dmul_rn(3.0, a), x), x));
  double right = __dmul_rn(__dmul_rn(__dmul_rn(__dmul_rn(0.5, x), __dsub_rn(1.0, __dmul_rn(t, t))), c), slope);
  return __dadd_rn(left, right);
}
)CUDA"},
};

const size_t kHelperCount = sizeof(kHelpers) / sizeof(kHelpers[0]);

} // namespace pgc::codegen
