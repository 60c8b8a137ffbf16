// Reading PaliGemmaConfig from config.json with Hugging Face's defaults, and
// the built-in 3B configurations.
#include "models/paligemma/Config.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace pgc::models {
namespace {

using nlohmann::json;

// The keys of the released paligemma-3b-pt-* config.json files that matter;
// everything else comes from the same defaults a downloaded file relies on.
std::string builtinJson(int64_t imageSize) {
  int64_t tokens = (imageSize / 14) * (imageSize / 14);
  json config = {{"model_type", "paligemma"},
                 {"image_token_index", 257152},
                 {"pad_token_id", 0},
                 {"projection_dim", 2048},
                 {"hidden_size", 2048},
                 {"vocab_size", 257152},
                 {"text_config",
                  {{"model_type", "gemma"},
                   {"hidden_size", 2048},
                   {"intermediate_size", 16384},
                   {"num_attention_heads", 8},
                   {"num_hidden_layers", 18},
                   {"num_key_value_heads", 1},
                   {"num_image_tokens", tokens},
                   {"hidden_activation", "gelu_pytorch_tanh"},
                   {"vocab_size", 257216}}},
                 {"vision_config",
                  {{"model_type", "siglip_vision_model"},
                   {"hidden_size", 1152},
                   {"intermediate_size", 4304},
                   {"num_attention_heads", 16},
                   {"num_hidden_layers", 27},
                   {"num_image_tokens", tokens},
                   {"image_size", imageSize},
                   {"patch_size", 14},
                   {"projection_dim", 2048},
                   {"vision_use_head", false}}}};
  return config.dump();
}

struct Reader {
  const json &section;
  std::string where; // "config.json: text_config" etc., for errors

  bool has(const char *key) const {
    return section.contains(key) && !section[key].is_null();
  }
  template <typename T> void read(const char *key, T &value) const {
    if (!has(key))
      return;
    const json &given = section[key];
    // nlohmann converts a float to an integer with a plain cast, which is
    // undefined behaviour out of range (2e264 as int64_t, found by
    // fuzz_paligemma_config): integers must be JSON integers that fit.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (given.is_number_float() ||
          (given.is_number_unsigned() &&
           given.get<uint64_t>() >
               static_cast<uint64_t>(std::numeric_limits<T>::max())) ||
          (given.is_number_integer() && !given.is_number_unsigned() &&
           (given.get<int64_t>() < std::numeric_limits<T>::min() ||
            given.get<int64_t>() > std::numeric_limits<T>::max())))
        fail("{}: key '{}' must be an integer, got {}", where, key,
             given.dump());
    }
    try {
      value = given.get<T>();
    } catch (const json::exception &) {
      fail("{}: key '{}' has the wrong type ({})", where, key,
           section[key].dump());
    }
  }
  void readPositive(const char *key, int64_t &value) const {
    read(key, value);
    if (value <= 0)
      fail("{}: '{}' must be positive, got {}", where, key, value);
  }
};

SiglipVisionConfig parseVision(const json &section, const std::string &where) {
  SiglipVisionConfig vision;
  Reader r{section, where};
  r.readPositive("hidden_size", vision.hiddenSize);
  r.readPositive("intermediate_size", vision.intermediateSize);
  r.readPositive("num_hidden_layers", vision.numHiddenLayers);
  r.readPositive("num_attention_heads", vision.numAttentionHeads);
  r.readPositive("num_channels", vision.numChannels);
  r.readPositive("image_size", vision.imageSize);
  r.readPositive("patch_size", vision.patchSize);
  r.read("layer_norm_eps", vision.layerNormEps);
  r.read("hidden_act", vision.hiddenAct);
  return vision;
}

GemmaConfig parseText(const json &section, const std::string &where) {
  GemmaConfig text;
  Reader r{section, where};
  r.readPositive("vocab_size", text.vocabSize);
  r.readPositive("hidden_size", text.hiddenSize);
  r.readPositive("intermediate_size", text.intermediateSize);
  r.readPositive("num_hidden_layers", text.numHiddenLayers);
  r.readPositive("num_attention_heads", text.numAttentionHeads);
  r.readPositive("num_key_value_heads", text.numKeyValueHeads);
  r.readPositive("head_dim", text.headDim);
  r.read("rms_norm_eps", text.rmsNormEps);
  r.read("rope_theta", text.ropeTheta);
  r.read("hidden_act", text.hiddenActivation);
  r.read("hidden_activation", text.hiddenActivation);
  r.read("attention_bias", text.attentionBias);
  r.read("tie_word_embeddings", text.tieWordEmbeddings);
  return text;
}

// gelu_pytorch_tanh, gelu_fast and gelu_new are one function (the tanh
// approximation) spelled three ways; exact erf GELU has no pg op.
void checkActivation(const std::string &where, const std::string &key,
                     const std::string &name) {
  if (name != "gelu_pytorch_tanh" && name != "gelu_fast" && name != "gelu_new")
    fail("{}: {} '{}' is not supported (gelu_pytorch_tanh, gelu_fast, "
         "gelu_new)",
         where, key, name);
}

void validate(const PaliGemmaConfig &config, const std::string &origin) {
  const SiglipVisionConfig &v = config.vision;
  const GemmaConfig &t = config.text;
  if (v.hiddenSize % v.numAttentionHeads != 0)
    fail("{}: vision_config.hidden_size {} is not a multiple of "
         "num_attention_heads {}",
         origin, v.hiddenSize, v.numAttentionHeads);
  if (v.imageSize % v.patchSize != 0)
    fail("{}: vision_config.image_size {} is not a multiple of patch_size {}",
         origin, v.imageSize, v.patchSize);
  if (t.numAttentionHeads % t.numKeyValueHeads != 0)
    fail("{}: text_config.num_attention_heads {} is not a multiple of "
         "num_key_value_heads {}",
         origin, t.numAttentionHeads, t.numKeyValueHeads);
  if (t.headDim % 2 != 0)
    fail("{}: text_config.head_dim {} must be even for rotary embeddings",
         origin, t.headDim);
  if (config.projectionDim != t.hiddenSize)
    fail("{}: projection_dim {} differs from text_config.hidden_size {} (the "
         "projector feeds the decoder)",
         origin, config.projectionDim, t.hiddenSize);
  if (t.attentionBias)
    fail("{}: text_config.attention_bias true is not supported (Gemma has "
         "no attention biases)",
         origin);
  if (!t.tieWordEmbeddings)
    fail("{}: text_config.tie_word_embeddings false is not supported "
         "(PaliGemma ties lm_head to embed_tokens)",
         origin);
  checkActivation(origin + ": vision_config", "hidden_act", v.hiddenAct);
  checkActivation(origin + ": text_config", "hidden_activation",
                  t.hiddenActivation);
}

} // namespace

PaliGemmaConfig parsePaliGemmaConfig(const std::string &jsonText,
                                     const std::string &origin) {
  json root;
  try {
    root = json::parse(jsonText);
  } catch (const json::exception &e) {
    fail("{}: not valid JSON ({})", origin, e.what());
  }
  if (!root.is_object())
    fail("{}: expected a JSON object (a PaliGemmaConfig)", origin);
  if (root.contains("model_type") && root["model_type"] != "paligemma")
    fail("{}: model_type is {}, expected \"paligemma\"", origin,
         root["model_type"].dump());

  PaliGemmaConfig config;
  Reader top{root, origin};
  top.read("image_token_index", config.imageTokenIndex);
  top.read("ignore_index", config.ignoreIndex);
  top.read("pad_token_id", config.padTokenId);
  top.readPositive("projection_dim", config.projectionDim);
  int64_t topVocabSize = 257152;
  top.readPositive("vocab_size", topVocabSize);

  for (const char *key : {"vision_config", "text_config"})
    if (top.has(key) && !root[key].is_object())
      fail("{}: '{}' must be an object", origin, key);
  // Absent sections take the defaults PaliGemmaConfig passes explicitly.
  if (top.has("vision_config")) {
    config.vision =
        parseVision(root["vision_config"], origin + ": vision_config");
  } else {
    config.vision.hiddenSize = 1152;
    config.vision.intermediateSize = 4096;
    config.vision.numHiddenLayers = 27;
    config.vision.numAttentionHeads = 16;
    config.vision.imageSize = 224;
    config.vision.patchSize = 14;
  }
  if (top.has("text_config")) {
    config.text = parseText(root["text_config"], origin + ": text_config");
  } else {
    config.text.hiddenSize = 2048;
    config.text.numHiddenLayers = 18;
    config.text.intermediateSize = 16384;
    config.text.numAttentionHeads = 8;
    config.text.numKeyValueHeads = 1;
    config.text.vocabSize = topVocabSize;
  }
  validate(config, origin);
  return config;
}

std::vector<std::string> builtinPaliGemmaConfigNames() {
  return {"paligemma-3b-pt-224", "paligemma-3b-pt-448", "paligemma-3b-pt-896"};
}

std::string paliGemmaConfigText(const std::string &nameOrPath) {
  for (int64_t size : {224, 448, 896})
    if (nameOrPath == "paligemma-3b-pt-" + std::to_string(size))
      return builtinJson(size);
  std::filesystem::path path(nameOrPath);
  if (std::filesystem::is_directory(path))
    path /= "config.json";
  std::vector<char> bytes = readFile(path.string());
  return std::string(bytes.begin(), bytes.end());
}

std::string paliGemmaHubId(const std::string &nameOrPath) {
  for (const std::string &name : builtinPaliGemmaConfigNames())
    if (nameOrPath == name)
      return "google/" + name;
  return "";
}

PaliGemmaConfig loadPaliGemmaConfig(const std::string &nameOrPath) {
  for (int64_t size : {224, 448, 896})
    if (nameOrPath == "paligemma-3b-pt-" + std::to_string(size))
      return parsePaliGemmaConfig(builtinJson(size), nameOrPath);
  std::filesystem::path path(nameOrPath);
  if (std::filesystem::is_directory(path))
    path /= "config.json";
  if (!std::filesystem::exists(path)) {
    std::string names;
    for (const std::string &name : builtinPaliGemmaConfigNames())
      names += (names.empty() ? "" : ", ") + name;
    fail("config '{}': no such file and not a built-in name ({})", nameOrPath,
         names);
  }
  std::vector<char> bytes = readFile(path.string());
  return parsePaliGemmaConfig(std::string(bytes.begin(), bytes.end()),
                              path.string());
}

} // namespace pgc::models
