// The values are PaliGemma's own (spec/paligemma.md, Processor): what
// google/paligemma-3b-pt-224 ships, with the ids and sizes of the
// processor at hand, so a small synthetic model gets files of the same shape.
#include "models/paligemma/processor/HfProcessorFiles.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace pgc {
namespace {

using Json = nlohmann::ordered_json;

// An AddedToken as transformers serialises it: special tokens are matched
// verbatim, never normalised or stripped.
Json addedToken(const std::string &content, bool special) {
  Json token = {{"content", content},
                {"lstrip", false},
                {"normalized", false},
                {"rstrip", false},
                {"single_word", false}};
  if (special)
    token["special"] = true;
  return token;
}

constexpr const char *kImageToken = "<image>";

} // namespace

std::vector<std::string> hfProcessorFileNames() {
  return {"tokenizer_config.json", "special_tokens_map.json",
          "preprocessor_config.json"};
}

std::vector<FolderFile> hfProcessorFiles(const PaliGemmaProcessor &processor) {
  const Tokenizer &tokenizer = processor.tokenizer();
  const PaliGemmaProcessorConfig &config = processor.config();
  std::string pad = tokenizer.piece(tokenizer.padId());
  std::string eos = tokenizer.piece(tokenizer.eosId());
  std::string bos = tokenizer.piece(tokenizer.bosId());
  std::string unk = tokenizer.piece(tokenizer.unkId());

  // added_tokens_decoder is keyed by the id as a string, in id order.
  Json decoder = Json::object();
  std::vector<std::pair<int64_t, std::string>> specials = {
      {tokenizer.padId(), pad},
      {tokenizer.eosId(), eos},
      {tokenizer.bosId(), bos},
      {tokenizer.unkId(), unk},
      {config.imageTokenId, kImageToken}};
  std::sort(specials.begin(), specials.end());
  for (const auto &[id, content] : specials)
    decoder[std::to_string(id)] = addedToken(content, true);

  Json tokenizerConfig = {
      // PaliGemmaProcessor puts <bos> after the image tokens itself; the
      // tokenizer adds it to plain text as Gemma's does.
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"added_tokens_decoder", decoder},
      {"additional_special_tokens", {kImageToken}},
      {"bos_token", bos},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", eos},
      {"pad_token", pad},
      {"processor_class", "PaliGemmaProcessor"},
      {"sp_model_kwargs", Json::object()},
      {"spaces_between_special_tokens", false},
      {"tokenizer_class", "GemmaTokenizer"},
      {"unk_token", unk},
      {"use_default_system_prompt", false},
  };

  Json specialTokens = {
      {"additional_special_tokens", {addedToken(kImageToken, false)}},
      {"bos_token", addedToken(bos, false)},
      {"eos_token", addedToken(eos, false)},
      {"pad_token", addedToken(pad, false)},
      {"unk_token", addedToken(unk, false)},
  };

  Json imageProcessor = {
      {"do_convert_rgb", nullptr},
      {"do_normalize", true},
      {"do_rescale", true},
      {"do_resize", true},
      {"image_mean", {0.5, 0.5, 0.5}},
      {"image_processor_type", "SiglipImageProcessor"},
      // PaliGemmaProcessor refuses an image processor without it.
      {"image_seq_length", config.imageSeqLength},
      {"image_std", {0.5, 0.5, 0.5}},
      {"processor_class", "PaliGemmaProcessor"},
      {"resample", 3}, // PIL.Image.BICUBIC
      {"rescale_factor", 1.0 / 255.0},
      {"size", {{"height", config.imageSize}, {"width", config.imageSize}}},
  };

  std::vector<std::string> names = hfProcessorFileNames();
  return {{names[0], tokenizerConfig.dump(2) + "\n"},
          {names[1], specialTokens.dump(2) + "\n"},
          {names[2], imageProcessor.dump(2) + "\n"}};
}

} // namespace pgc
