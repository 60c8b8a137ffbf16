// peft LoRA adapters of a compiled step: the settings the artifact records,
// saving them as adapter_model.safetensors + adapter_config.json, loading
// them back, and merging them into the base weights for export.
#pragma once

#include "runtime/exec/Session.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgc::train {

/// The LoRA settings the artifact was compiled with (its "lora" metadata,
/// filled by the lowering from pg-insert-lora's `pg.lora`).
struct LoraSettings {
  int64_t r = 0;
  double alpha = 0;
  double dropout = 0;
  bool rslora = false;
  /// peft's target_modules as JSON text: a list of names or one regex.
  std::string targetModulesJson = "[]";
  /// The Hugging Face hub id of the base model, when the artifact knows it.
  std::string baseModel;

  /// alpha / r, or alpha / sqrt(r) with rsLoRA: peft's `scaling`.
  double scaling() const;
};

/// One adapted linear layer: `<module>.weight` plus its two adapters.
struct LoraModule {
  std::string module; ///< "language_model.model.layers.0.self_attn.q_proj"
  std::string weight; ///< module + ".weight"
  std::string a;      ///< module + ".lora_A.weight", [r, in]
  std::string b;      ///< module + ".lora_B.weight", [out, r]
};

/// True for `<module>.lora_A.weight` and `<module>.lora_B.weight`.
bool isLoraParameterName(const std::string &name);

/// The adapted layers of a plan, in parameter order; empty without LoRA.
/// Every lora_A needs its lora_B and base weight (else an error naming
/// `what`).
std::vector<LoraModule> loraModules(const Plan &plan, const std::string &what);

/// The plan's LoRA settings; nullopt when it has none recorded (no LoRA, or
/// an artifact compiled before pgc recorded them). Malformed metadata is an
/// error naming `what`.
std::optional<LoraSettings> loraSettings(const Plan &plan,
                                         const std::string &what);

/// As loraSettings, but an artifact with LoRA parameters and no settings is
/// an error ("recompile it").
std::optional<LoraSettings> requireLoraSettings(const Plan &plan,
                                                const std::string &what);

/// The key peft's save_pretrained gives a LoRA parameter of a model wrapped
/// with get_peft_model (the adapter name "default" left out):
/// "base_model.model." + name.
std::string peftAdapterKey(const std::string &parameterName);

/// adapter_config.json in peft's format (peft_type LORA, r, lora_alpha,
/// lora_dropout, target_modules, use_rslora, and every other key at the
/// default that describes what pgc computes); `baseModel` may be empty.
std::string adapterConfigJson(const LoraSettings &settings,
                              const std::string &baseModel);

/// Writes DIR/adapter_model.safetensors (every LoRA parameter under its
/// peft key, in its own dtype: f32 as trained) and DIR/adapter_config.json,
/// each atomically. DIR must exist.
void writeAdapter(const std::string &dir, const Session &session,
                  const LoraSettings &settings, const std::string &baseModel);

/// Sets the session's LoRA parameters from an adapter folder. Checks, with a
/// one-line error naming the file and the key or tensor: the folder has both
/// files; adapter_config.json is LORA with the artifact's r, lora_alpha and
/// use_rslora; every key is "base_model.model." + a LoRA parameter of the
/// artifact (either Hugging Face layout), with its shape and a float dtype;
/// no LoRA parameter of the artifact is missing. `what` names the artifact.
void loadAdapter(const std::string &dir, Session &session,
                 const std::string &what);

/// Every parameter of the session except the LoRA adapters, as f32 tensors
/// of their logical shapes (NF4 weights dequantized as bitsandbytes does),
/// with each adapted weight replaced by W + scaling * B A (products and sums
/// in f64, rounded once to f32), then converted to `as` one tensor at a time
/// (so that a bf16 export of a large model never holds all of it in f32).
/// In plan order.
std::vector<std::pair<std::string, Tensor>>
mergedParameters(const Session &session, const LoraSettings *settings,
                 const std::string &what, DType as = DType::F32);

} // namespace pgc::train
