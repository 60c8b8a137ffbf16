// The synthetic VQA generator: repeatable for a seed, answers consistent with
// the pixels, a matching tokenizer, readable as an imagefolder.
#include "runtime/data/SynthVqa.h"
#include "runtime/data/ImageFolder.h"
#include "runtime/data/Tokenizer.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>

namespace pgc {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> folderContents(const std::string &root) {
  std::map<std::string, std::string> contents;
  for (const auto &entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) {
      std::vector<char> bytes = readFile(entry.path().string());
      contents[fs::relative(entry.path(), root).string()] =
          std::string(bytes.begin(), bytes.end());
    }
  return contents;
}

SynthVqaOptions smallSet(const std::string &out, uint64_t seed) {
  SynthVqaOptions options;
  options.outDir = out;
  options.trainCount = 12;
  options.validationCount = 3;
  options.imageSize = 48;
  options.seed = seed;
  return options;
}

TEST(SynthVqa, SameSeedSameBytesOtherSeedOtherData) {
  testing::ScratchDir scratch("pgc-synth-determinism");
  generateSynthVqa(smallSet(scratch / "a", 3));
  generateSynthVqa(smallSet(scratch / "b", 3));
  generateSynthVqa(smallSet(scratch / "c", 4));
  auto a = folderContents(scratch / "a");
  EXPECT_EQ(a.size(), 12u + 3u + 2u + 2u); // images, metadata x2, tokenizer x2
  EXPECT_EQ(a, folderContents(scratch / "b"));
  auto c = folderContents(scratch / "c");
  EXPECT_NE(a["train/metadata.jsonl"], c["train/metadata.jsonl"]);
  EXPECT_NE(a["train/000000.png"], c["train/000000.png"]);
  EXPECT_EQ(a["tokenizer.model"], c["tokenizer.model"]);
}

TEST(SynthVqa, RefusesAnExistingFolderAndLeavesNoStaging) {
  testing::ScratchDir scratch("pgc-synth-existing");
  fs::create_directories(scratch / "taken");
  writeFileAtomically(scratch / "taken/file", "x");
  EXPECT_THROW(generateSynthVqa(smallSet(scratch / "taken", 1)), Error);
  SynthVqaOptions bad = smallSet(scratch / "bad", 1);
  bad.imageSize = 3;
  EXPECT_THROW(generateSynthVqa(bad), Error);
  int entries = 0;
  for ([[maybe_unused]] const auto &entry :
       fs::directory_iterator(scratch.str()))
    ++entries;
  EXPECT_EQ(entries, 1); // only "taken"
}

bool imageHasColor(const RgbImage &image, const uint8_t rgb[3]) {
  for (size_t i = 0; i < image.pixels.size(); i += 3)
    if (image.pixels[i] == rgb[0] && image.pixels[i + 1] == rgb[1] &&
        image.pixels[i + 2] == rgb[2])
      return true;
  return false;
}

TEST(SynthVqa, QuestionsCoverAllTypesAndColourAnswersAreInThePicture) {
  // Shape colours as the generator names them (SynthVqa.cpp's table).
  std::map<std::string, std::array<uint8_t, 3>> colors = {
      {"red", {220, 40, 40}},     {"green", {40, 170, 60}},
      {"blue", {40, 80, 220}},    {"yellow", {240, 210, 40}},
      {"purple", {140, 60, 180}}, {"orange", {245, 140, 30}}};
  std::map<std::string, int> types, yesNo;
  for (int64_t i = 0; i < 300; ++i) {
    SynthVqaExample example = drawSynthVqaExample(9, 0, i, 64);
    ++types[example.questionType];
    if (example.questionType == "color") {
      ASSERT_TRUE(colors.count(example.answer)) << example.answer;
      EXPECT_TRUE(imageHasColor(example.image, colors[example.answer].data()))
          << example.question << " -> " << example.answer;
    }
    if (example.questionType == "exists")
      ++yesNo[example.answer];
    if (example.questionType == "count") {
      int count = std::stoi(example.answer);
      EXPECT_GE(count, 0);
      EXPECT_LE(count, 5);
    }
  }
  for (const char *type : {"color", "shape", "count", "exists"})
    EXPECT_GT(types[type], 30) << type;
  EXPECT_GT(yesNo["yes"], 10);
  EXPECT_GT(yesNo["no"], 10);
}

TEST(SynthVqa, WritesAnImageFolderAndAMatchingTokenizer) {
  testing::ScratchDir scratch("pgc-synth-layout");
  std::string out = scratch / "set";
  generateSynthVqa(smallSet(out, 1));
  VqaColumns columns;
  columns.answers = "answers";
  VqaSplits splits = openImageFolderSplits(out, columns);
  EXPECT_EQ(splits.train.size(), 12u);
  EXPECT_EQ(splits.validation.size(), 3u);
  RgbImage image = decodeImageFile(splits.train[0].imagePath);
  EXPECT_EQ(image.width, 48);
  EXPECT_EQ(splits.train[0].answers,
            std::vector<std::string>{splits.train[0].answer});

  Tokenizer tokenizer = Tokenizer::load(out + "/tokenizer.model");
  std::ifstream in(out + "/tokenizer.json");
  auto config = nlohmann::json::parse(in);
  EXPECT_EQ(config["image_token_id"].get<int64_t>(), tokenizer.vocabSize());
  EXPECT_EQ(config["sentencepiece_vocab_size"].get<int64_t>(),
            tokenizer.vocabSize());
  EXPECT_EQ(config["model_vocab_size"].get<int64_t>() % 64, 0);
  EXPECT_GT(config["model_vocab_size"].get<int64_t>(), tokenizer.vocabSize());
  EXPECT_EQ(config["pad_token_id"], 0);
  EXPECT_EQ(config["eos_token_id"], 1);
  EXPECT_EQ(config["bos_token_id"], 2);
  EXPECT_EQ(config["newline_token_id"].get<int64_t>(),
            *tokenizer.pieceId("\n"));
  EXPECT_EQ(config["image_size"], 48);
  for (const VqaExample &example : splits.train.examples())
    for (int64_t id :
         tokenizer.encode("answer " + example.question + "\n" + example.answer))
      EXPECT_NE(id, tokenizer.unkId()) << example.question;
}

} // namespace
} // namespace pgc
