// Loading a Hugging Face PaliGemma checkpoint (legacy or newer layout) into a
// Session's parameters.
#pragma once

#include "runtime/exec/Session.h"
#include "runtime/weights/Safetensors.h"

#include <functional>
#include <string>
#include <vector>

namespace pgc::models {

/// The model's (legacy-layout) name for a checkpoint tensor name. The newer
/// transformers layout (model.language_model.X, model.vision_tower.X,
/// model.multi_modal_projector.X, lm_head.weight) maps to
/// language_model.model.X, vision_tower.X, multi_modal_projector.X and
/// language_model.lm_head.weight; other names are returned unchanged.
std::string legacyParameterName(const std::string &checkpointName);

/// The tied LM head's legacy name; the model reads embed_tokens instead.
inline constexpr const char *kTiedLmHeadName = "language_model.lm_head.weight";

struct WeightLoadSummary {
  size_t loaded = 0;
  /// Checkpoint tensors the model has no parameter for (warned about).
  std::vector<std::string> unknown;
  /// LoRA adapter parameters the checkpoint does not have (a base model):
  /// left unset for the caller to initialise, as peft adds fresh adapters.
  std::vector<std::string> freshAdapters;
};

/// Whether a parameter is a LoRA adapter matrix (peft's `….lora_A.weight` /
/// `….lora_B.weight` names, which pg-insert-lora gives them).
bool isLoraAdapterName(const std::string &name);

/// Sets every parameter of `session` from `checkpoint`, converting F32, BF16
/// and F16 storage to the parameter's dtype. A missing tensor, a wrong shape
/// (both shapes named) or a non-float dtype is an error naming the tensor and
/// the checkpoint; the tied lm_head may be absent, and if present must have
/// embed_tokens' shape; an unknown extra tensor is reported to `warn`.
/// LoRA adapters absent from the checkpoint are listed in freshAdapters.
WeightLoadSummary
loadPaliGemmaWeights(Session &session, const Checkpoint &checkpoint,
                     const std::function<void(const std::string &)> &warn);

} // namespace pgc::models
