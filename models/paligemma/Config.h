// PaliGemma's model configuration, read from a Hugging Face config.json
// (PaliGemmaConfig) or a built-in name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::models {

/// SiglipVisionConfig: the fields the vision tower uses.
struct SiglipVisionConfig {
  int64_t hiddenSize = 768;
  int64_t intermediateSize = 3072;
  int64_t numHiddenLayers = 12;
  int64_t numAttentionHeads = 12;
  int64_t numChannels = 3;
  int64_t imageSize = 224;
  int64_t patchSize = 16;
  double layerNormEps = 1e-6;
  std::string hiddenAct = "gelu_pytorch_tanh";

  int64_t headDim() const { return hiddenSize / numAttentionHeads; }
  int64_t patchesPerSide() const { return imageSize / patchSize; }
  int64_t numPatches() const { return patchesPerSide() * patchesPerSide(); }
};

/// GemmaConfig: the fields the decoder uses.
struct GemmaConfig {
  int64_t vocabSize = 256000;
  int64_t hiddenSize = 3072;
  int64_t intermediateSize = 24576;
  int64_t numHiddenLayers = 28;
  int64_t numAttentionHeads = 16;
  int64_t numKeyValueHeads = 16;
  int64_t headDim = 256;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  /// hidden_activation, falling back to hidden_act as HF's GemmaMLP does.
  std::string hiddenActivation = "gelu_pytorch_tanh";
  bool attentionBias = false;
  bool tieWordEmbeddings = true;
};

/// PaliGemmaConfig with nested vision and text configurations.
struct PaliGemmaConfig {
  SiglipVisionConfig vision;
  GemmaConfig text;
  int64_t imageTokenIndex = 256000;
  int64_t ignoreIndex = -100;
  int64_t padTokenId = 0;
  int64_t projectionDim = 2048;

  /// (image_size // patch_size)^2, as PaliGemmaConfig sets num_image_tokens.
  int64_t numImageTokens() const { return vision.numPatches(); }
};

/// Parses the text of a config.json. HF's defaults fill absent keys: the
/// PaliGemmaConfig defaults at the top level and for an absent vision or text
/// section, SiglipVisionConfig's and GemmaConfig's inside a given section.
/// `origin` names the source in errors. Checks that the sizes are usable.
PaliGemmaConfig parsePaliGemmaConfig(const std::string &jsonText,
                                     const std::string &origin);

/// A built-in name (paligemma-3b-pt-224, -448, -896), a path to a config.json,
/// or a folder holding one.
PaliGemmaConfig loadPaliGemmaConfig(const std::string &nameOrPath);

/// The text of the config.json that loadPaliGemmaConfig(nameOrPath) reads
/// (for a built-in name, the keys of the released file that matter), so
/// that an artifact can carry the configuration it was compiled from.
std::string paliGemmaConfigText(const std::string &nameOrPath);

/// The Hugging Face hub id of a built-in configuration
/// ("google/paligemma-3b-pt-224"); empty for a config.json.
std::string paliGemmaHubId(const std::string &nameOrPath);

/// The built-in configuration names.
std::vector<std::string> builtinPaliGemmaConfigNames();

} // namespace pgc::models
