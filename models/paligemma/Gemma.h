// The Gemma decoder (language_model) written in the DSL, block by block, with
// its tied LM head.
#pragma once

#include "dsl/Builder.h"
#include "models/paligemma/Config.h"

namespace pgc::models {

/// language_model.model.embed_tokens: rows of the embedding table for
/// input_ids [B, L], unscaled, in `dtype`.
dsl::Tensor gemmaEmbedTokens(const dsl::Scope &model, dsl::Tensor inputIds,
                             const GemmaConfig &config, DType dtype);

/// language_model.model after the embedding lookup: scales inputs_embeds
/// [B, L, hidden] by sqrt(hidden) (rounded to their dtype, as HF does), runs
/// the decoder layers with RoPE positions [B, L] and a Bool attention mask
/// [B, 1, L, L] (true = may attend), and applies the final norm.
dsl::Tensor gemmaModel(const dsl::Scope &model, dsl::Tensor inputsEmbeds,
                       dsl::Tensor positionIds, dsl::Tensor attentionMask,
                       const GemmaConfig &config);

/// lm_head, tied to embed_tokens: hidden [B, L, hidden] times the embedding
/// table transposed, giving logits [B, L, vocab] in the hidden dtype.
dsl::Tensor gemmaLmHead(const dsl::Scope &model, dsl::Tensor hidden,
                        const GemmaConfig &config);

} // namespace pgc::models
