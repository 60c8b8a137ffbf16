// The whole `pgc forward` path as a library call: config, DSL build, lowering,
// weights, batch, CPU Session run.
#pragma once

#include "models/paligemma/Config.h"
#include "runtime/exec/Session.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>

namespace pgc::models {

/// The five HF input names a batch file holds.
extern const char *const kBatchInputNames[5];

struct ForwardRequest {
  std::string config;  ///< built-in name, config.json or its folder
  std::string weights; ///< checkpoint: file, folder or sharded index
  std::string batch;   ///< safetensors with the five HF inputs
  DType dtype = DType::F32;
  /// Also return grad.<name> (f32) for every trainable parameter.
  bool backward = false;
  /// With `backward`: a YAML freeze/train policy file (compiler/Policy);
  /// empty trains every parameter.
  std::string policy;
  /// Also return debug.* intermediates (see PaliGemmaBuildOptions).
  bool debugOutputs = false;
};

/// Reads the batch file: pixel_values (float, [B, C, H, W] as the config
/// says) and input_ids, attention_mask, token_type_ids, labels (integer,
/// [B, L]). Other tensors in the file are ignored. Errors name the file, the
/// tensor and both shapes; each example must hold exactly num_image_tokens
/// <image> ids, as HF requires.
TensorMap readForwardBatch(const std::string &path,
                           const PaliGemmaConfig &config);

/// Adds `train_step` to a module holding `forward`: forward's results
/// followed by grad.<name> for each trainable parameter: every parameter
/// without a policy, else those the YAML policy (compiler/Policy) trains.
/// Pass remarks go to `report` as "note: ..." lines; a failure is an error
/// with the pass's diagnostic.
void addTrainStep(mlir::ModuleOp module, const std::string &policyPath,
                  const std::function<void(const std::string &)> &report);

/// Runs `forward` (or, with `backward`, `train_step`) on the CPU reference
/// executor and returns logits (f32 [B, L, V]) and loss (f32 [1]), the
/// gradients (f32) and the debug outputs if asked for. Messages go to `report`
/// as lines starting "warning: " (unknown checkpoint tensors) or "note: " (what
/// a policy pruned).
TensorMap
runPaliGemmaForward(const ForwardRequest &request,
                    const std::function<void(const std::string &)> &report);

} // namespace pgc::models
