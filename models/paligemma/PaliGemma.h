// PaliGemmaForConditionalGeneration in the DSL: the `forward` function with
// HF's inputs, loss and logits.
#pragma once

#include "dsl/Builder.h"
#include "models/paligemma/Config.h"

namespace pgc::models {

struct PaliGemmaShape {
  int64_t batch = 1;
  /// Tokens per example: num_image_tokens <image> ids plus the text.
  int64_t seqLen = 0;
};

struct PaliGemmaBuildOptions {
  PaliGemmaShape shape;
  /// f32, or bf16 for the mixed-precision recipe: bf16 parameters,
  /// activations and matmul inputs; norms, softmax and the loss in f32.
  DType dtype = DType::F32;
  /// Also return debug.vision_last_hidden_state, debug.image_features
  /// (projector output, before scaling) and debug.position_ids.
  bool debugOutputs = false;
};

/// Builds func `forward(pixel_values f32 [B, C, H, W], input_ids,
/// attention_mask, token_type_ids, labels i64 [B, L]) -> (loss f32 [],
/// logits f32 [B, L, vocab])` with every parameter named as in the legacy
/// Hugging Face checkpoint (vision_tower.vision_model..., multi_modal_projector
/// .linear..., language_model.model...; the LM head is embed_tokens).
///
/// The <image> positions are computed in the graph from input_ids: the n-th
/// id equal to image_token_index receives the n-th image feature. Each
/// example must hold exactly num_image_tokens of them (checkImageTokenCounts).
void buildPaliGemmaForward(dsl::ModuleBuilder &module,
                           const PaliGemmaConfig &config,
                           const PaliGemmaBuildOptions &options);

} // namespace pgc::models
