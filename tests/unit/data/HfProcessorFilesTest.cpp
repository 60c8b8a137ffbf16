// The Hugging Face processor files of exports and checkpoints against the
// values google/paligemma-3b-pt-224 ships (spec/paligemma.md, Processor),
// and pgc's settings file under its new and its old name.
#include "models/paligemma/processor/HfProcessorFiles.h"
#include "runtime/data/DataSettings.h"
#include "runtime/data/SynthVqa.h"
#include "runtime/support/FileUtil.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

namespace pgc {
namespace {

using nlohmann::json;

std::map<std::string, json> filesOf(const PaliGemmaProcessor &processor) {
  std::map<std::string, json> files;
  for (const FolderFile &file : hfProcessorFiles(processor))
    files[file.name] = json::parse(file.content);
  return files;
}

json addedToken(const std::string &content) {
  return {{"content", content},
          {"lstrip", false},
          {"normalized", false},
          {"rstrip", false},
          {"single_word", false}};
}

// The synthetic tokenizer has Gemma's special ids (pad 0, eos 1, bos 2,
// unk 3) but SentencePiece's names for two of them (</s>, <s> where Gemma
// has <eos>, <bos>): the files name the pieces the tokenizer.model has.
// Otherwise, with the 3B model's <image> id and image shapes, they are the
// published files key for key.
TEST(HfProcessorFiles, AreThoseOfPaliGemma3bPt224) {
  PaliGemmaProcessorConfig config;
  config.imageTokenId = 257152;
  config.imageSeqLength = 256;
  config.imageSize = 224;
  PaliGemmaProcessor processor(
      Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()), "synthetic"),
      config);
  std::map<std::string, json> files = filesOf(processor);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files.count("tokenizer.json"), 0u);

  json special = [] {
    json token = addedToken("");
    token["special"] = true;
    return token;
  }();
  json decoder = json::object();
  for (auto [id, content] : std::vector<std::pair<const char *, const char *>>{
           {"0", "<pad>"},
           {"1", "</s>"},
           {"2", "<s>"},
           {"3", "<unk>"},
           {"257152", "<image>"}}) {
    decoder[id] = special;
    decoder[id]["content"] = content;
  }
  json tokenizerConfig = {
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"added_tokens_decoder", decoder},
      {"additional_special_tokens", {"<image>"}},
      {"bos_token", "<s>"},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", "</s>"},
      {"pad_token", "<pad>"},
      {"processor_class", "PaliGemmaProcessor"},
      {"sp_model_kwargs", json::object()},
      {"spaces_between_special_tokens", false},
      {"tokenizer_class", "GemmaTokenizer"},
      {"unk_token", "<unk>"},
      {"use_default_system_prompt", false},
  };
  EXPECT_EQ(files["tokenizer_config.json"], tokenizerConfig)
      << files["tokenizer_config.json"].dump(2);

  json specialTokens = {
      {"additional_special_tokens", {addedToken("<image>")}},
      {"bos_token", addedToken("<s>")},
      {"eos_token", addedToken("</s>")},
      {"pad_token", addedToken("<pad>")},
      {"unk_token", addedToken("<unk>")},
  };
  EXPECT_EQ(files["special_tokens_map.json"], specialTokens);

  json preprocessor = {
      {"do_convert_rgb", nullptr},
      {"do_normalize", true},
      {"do_rescale", true},
      {"do_resize", true},
      {"image_mean", {0.5, 0.5, 0.5}},
      {"image_processor_type", "SiglipImageProcessor"},
      {"image_seq_length", 256},
      {"image_std", {0.5, 0.5, 0.5}},
      {"processor_class", "PaliGemmaProcessor"},
      {"resample", 3},
      {"rescale_factor", 0.00392156862745098},
      {"size", {{"height", 224}, {"width", 224}}},
  };
  EXPECT_EQ(files["preprocessor_config.json"], preprocessor);
}

// A small model's files follow its own ids and sizes.
TEST(HfProcessorFiles, FollowTheProcessorsIdsAndSizes) {
  Tokenizer tokenizer =
      Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()), "synthetic");
  PaliGemmaProcessorConfig config;
  config.imageTokenId = tokenizer.vocabSize();
  config.imageSeqLength = 4;
  config.imageSize = 16;
  std::map<std::string, json> files =
      filesOf(PaliGemmaProcessor(tokenizer, config));
  json decoder = files["tokenizer_config.json"]["added_tokens_decoder"];
  EXPECT_EQ(decoder[std::to_string(tokenizer.vocabSize())]["content"],
            "<image>");
  EXPECT_EQ(decoder.size(), 5u);
  EXPECT_EQ(files["preprocessor_config.json"]["image_seq_length"], 4);
  EXPECT_EQ(files["preprocessor_config.json"]["size"]["height"], 16);
}

TEST(DataSettings, NewNameFirstOldNameOnlyWhenItIsPgcs) {
  testing::ScratchDir scratch("pgc-data-settings");
  std::string dir = scratch.str();
  EXPECT_EQ(findDataSettings(dir), "");
  // An older pgc folder: its settings under tokenizer.json are still read.
  writeFileAtomically(dir + "/tokenizer.json",
                      "{\"image_token_id\": 224, \"prompt_template\": "
                      "\"answer {question}\"}");
  EXPECT_EQ(findDataSettings(dir), dir + "/tokenizer.json");
  writeFileAtomically(dir + "/pgc_data.json", "{\"image_token_id\": 224}");
  EXPECT_EQ(findDataSettings(dir), dir + "/pgc_data.json");

  // A Hugging Face fast-tokenizer file is not pgc's settings.
  testing::ScratchDir hf("pgc-data-settings-hf");
  writeFileAtomically(hf.str() + "/tokenizer.json",
                      "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": "
                      "257152, \"content\": \"<image>\"}], \"model\": "
                      "{\"type\": \"BPE\"}, \"image_token_id\": 1}");
  EXPECT_EQ(findDataSettings(hf.str()), "");
  writeFileAtomically(hf.str() + "/tokenizer.json", "not json");
  EXPECT_EQ(findDataSettings(hf.str()), "");
}

} // namespace
} // namespace pgc
