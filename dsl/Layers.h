// Layers shared by models, built from DSL ops with Hugging Face parameter names.
#pragma once

#include "dsl/Builder.h"
#include "dsl/Ops.h"

namespace pgc::dsl {

/// y = x W^T (+ b), with W "weight" [out, in] and b "bias" [out] in `scope`,
/// as torch.nn.Linear names and lays them out.
Tensor linear(const Scope &scope, Tensor x, int64_t outFeatures, bool bias,
              DType dtype = DType::F32, Loc loc = Loc::current());

} // namespace pgc::dsl
