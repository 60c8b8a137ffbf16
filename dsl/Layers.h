// Layers shared by models, built from DSL ops with Hugging Face parameter names.
#pragma once

#include "dsl/Builder.h"
#include "dsl/Ops.h"

namespace pgc::dsl {

/// y = x W^T (+ b), with W "weight" [out, in] and b "bias" [out] in `scope`,
/// as torch.nn.Linear names and lays them out.
Tensor linear(const Scope &scope, Tensor x, int64_t outFeatures, bool bias,
              DType dtype = DType::F32, Loc loc = Loc::current());

/// [B, L, heads * headDim] -> [B, heads, L, headDim], the layout
/// pg.attention and pg.rope take.
Tensor splitHeads(Tensor x, int64_t heads, Loc loc = Loc::current());
/// [B, heads, L, headDim] -> [B, L, heads * headDim].
Tensor mergeHeads(Tensor x, Loc loc = Loc::current());

} // namespace pgc::dsl
