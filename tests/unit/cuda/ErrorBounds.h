// Floating-point error-bound helpers shared by the GPU tests that compare
// kernels with the CPU under derived bounds (reductions, attention, rope and
// cross-entropy).
#pragma once

#include "runtime/support/DType.h"

#include <algorithm>
#include <cmath>

namespace pgc::cuda::bounds {

/// γ_n = n·u / (1 − n·u): the relative error bound of a sum of n terms
/// evaluated with unit roundoff u (Higham, Accuracy and Stability, §3.1).
inline double gammaOf(double n, double u) { return n * u / (1 - n * u); }

/// Half the spacing of `dtype` at |v|: what storing a value of the compute
/// type (f64 when `f64Compute`, else f32) there may add by rounding; 0 when
/// the store is exact (f32 from f32, f64, integers).
inline double storeRounding(DType dtype, bool f64Compute, double v) {
  int precision = 0, minExponent = 0;
  switch (dtype) {
  case DType::BF16:
    precision = 8, minExponent = -126;
    break;
  case DType::F16:
    precision = 11, minExponent = -14;
    break;
  case DType::F32:
    if (!f64Compute)
      return 0;
    precision = 24, minExponent = -126;
    break;
  default:
    return 0;
  }
  int exponent = 0;
  std::frexp(std::fabs(v), &exponent);
  return std::ldexp(0.5, std::max(exponent - 1, minExponent) - (precision - 1));
}

} // namespace pgc::cuda::bounds
