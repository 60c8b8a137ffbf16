// Checks the GeGLU CPU reference against the same formula in double precision.
#include "runtime/cuda/kernels/FusedElementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace pgc::cuda {
namespace {

TEST(GegluReference, WithinOneBf16StepOfDoublePrecision) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  Tensor gate(DType::BF16, {4099}), up(DType::BF16, {4099});
  for (int64_t i = 0; i < gate.numel(); ++i) {
    gate.data<uint16_t>()[i] = f32ToBf16(normal(rng));
    up.data<uint16_t>()[i] = f32ToBf16(normal(rng));
  }
  Tensor out = gegluReference(gate, up);
  for (int64_t i = 0; i < gate.numel(); ++i) {
    double x = bf16ToF32(gate.data<uint16_t>()[i]);
    double u = bf16ToF32(up.data<uint16_t>()[i]);
    double exact =
        0.5 * x *
        (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))) * u;
    double got = bf16ToF32(out.data<uint16_t>()[i]);
    // One bf16 step is 2^-7 relative. Where 1 + tanh cancels (x << 0) f32
    // keeps only an absolute accuracy of a few ulp of 1, scaled by x * up.
    ASSERT_LE(std::fabs(got - exact),
              std::fabs(exact) / 128 + 4e-7 * std::fabs(x * u))
        << "i = " << i << " x = " << x << " up = " << u;
  }
}

} // namespace
} // namespace pgc::cuda
