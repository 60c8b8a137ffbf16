// Shared layers (linear) written with DSL ops and Hugging Face parameter names.
#include "dsl/Layers.h"

namespace pgc::dsl {

Tensor linear(const Scope &scope, Tensor x, int64_t outFeatures, bool bias,
              DType dtype, Loc loc) {
  int64_t inFeatures = x.dim(-1);
  Tensor weight = scope.param("weight", {outFeatures, inFeatures},
                              Init::normal(0.02), dtype, loc);
  Tensor y = matmul(x, weight, /*transposeA=*/false, /*transposeB=*/true, loc);
  if (bias)
    y = add(y, scope.param("bias", {outFeatures}, Init::zeros(), dtype, loc),
            loc);
  return y;
}

} // namespace pgc::dsl
