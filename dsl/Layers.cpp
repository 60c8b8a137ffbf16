// Shared layers (linear, head splitting) written with DSL ops and Hugging Face parameter names.
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

Tensor splitHeads(Tensor x, int64_t heads, Loc loc) {
  Tensor split =
      reshape(x, {x.dim(0), x.dim(1), heads, x.dim(2) / heads}, loc);
  return transpose(split, {0, 2, 1, 3}, loc);
}

Tensor mergeHeads(Tensor x, Loc loc) {
  Tensor merged = transpose(x, {0, 2, 1, 3}, loc);
  return reshape(merged, {x.dim(0), x.dim(2), x.dim(1) * x.dim(3)}, loc);
}

} // namespace pgc::dsl
