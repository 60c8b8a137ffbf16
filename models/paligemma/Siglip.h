// The SigLIP vision tower (vision_tower.vision_model) written in the DSL, block
// by block.
#pragma once

#include "dsl/Builder.h"
#include "models/paligemma/Config.h"

namespace pgc::models {

/// vision_tower.vision_model: pixel_values [B, C, H, W] in the model dtype to
/// last_hidden_state [B, patches, hidden] after post_layernorm. PaliGemma uses
/// no pooling head. Parameters take pixel_values' dtype.
dsl::Tensor siglipVisionModel(const dsl::Scope &visionModel,
                              dsl::Tensor pixelValues,
                              const SiglipVisionConfig &config);

} // namespace pgc::models
