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
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

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

// The pixels of `rgb` in the image, and their bounding box.
struct ColorRegion {
  int count = 0, x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  double cx() const { return (x0 + x1) / 2.0; }
  double cy() const { return (y0 + y1) / 2.0; }
};
ColorRegion findColor(const RgbImage &image,
                      const std::array<uint8_t, 3> &rgb) {
  ColorRegion region;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const uint8_t *p = image.row(y) + 3 * x;
      if (p[0] != rgb[0] || p[1] != rgb[1] || p[2] != rgb[2])
        continue;
      ++region.count;
      region.x0 = std::min(region.x0, x);
      region.x1 = std::max(region.x1, x);
      region.y0 = std::min(region.y0, y);
      region.y1 = std::max(region.y1, y);
    }
  return region;
}

const std::map<std::string, std::array<uint8_t, 3>> kColors = {
    {"red", {220, 40, 40}},     {"green", {40, 170, 60}},
    {"blue", {40, 80, 220}},    {"yellow", {240, 210, 40}},
    {"purple", {140, 60, 180}}, {"orange", {245, 140, 30}}};

// VQAv2 rows carry ten annotators' answers that mostly, not always, agree;
// with one answer per row the VQA accuracy could not pass 1/3.
TEST(SynthVqa, TenAnnotatorsMostlyGiveTheAnswer) {
  auto normalized = [](std::string text) {
    std::string out;
    for (char c : text)
      if (c != '.')
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out.rfind("a ", 0) == 0 ? out.substr(2) : out;
  };
  int rowsWithOthers = 0, surfaceVariants = 0;
  std::map<std::string, std::set<std::string>> othersByType;
  const int rows = 400;
  for (int i = 0; i < rows; ++i) {
    SynthVqaExample example = drawSynthVqaExample(11, 1, i, 48);
    ASSERT_EQ(example.answers.size(), 10u) << example.question;
    int agreeing = 0;
    std::map<std::string, int> votes;
    for (const std::string &answer : example.answers) {
      ++votes[normalized(answer)];
      if (normalized(answer) == example.answer) {
        ++agreeing;
        surfaceVariants += answer != example.answer;
      } else {
        othersByType[example.questionType].insert(answer);
      }
    }
    // The answer trained on is the strict majority, as multiple_choice_answer
    // is VQAv2's most frequent answer.
    EXPECT_GE(agreeing, 6) << example.question;
    for (const auto &[answer, count] : votes)
      if (answer != example.answer)
        EXPECT_LT(count, agreeing) << example.question;
    rowsWithOthers += agreeing < 10;
  }
  EXPECT_GT(rowsWithOthers, rows / 2);
  EXPECT_LT(rowsWithOthers, rows);
  EXPECT_GT(surfaceVariants, rows / 2);
  for (const char *type : {"color", "shape", "count", "exists"})
    EXPECT_GE(othersByType[type].size(), 3u) << type;
  // Captions are not VQA: one answer, the caption.
  SynthVqaExample caption =
      drawSynthVqaExample(11, 1, 0, 48, SynthTask::Caption);
  EXPECT_EQ(caption.answers, std::vector<std::string>{caption.answer});
}

TEST(SynthVqa, SingleShapeIsLargeAndTheAnswerNamesIt) {
  std::map<std::string, int> types;
  std::map<std::string, int> answers;
  for (int64_t i = 0; i < 200; ++i) {
    SynthVqaExample example =
        drawSynthVqaExample(5, 0, i, 56, SynthTask::Single);
    ++types[example.questionType];
    ++answers[example.answer];
    // Exactly one shape colour is in the picture, and it covers a disc of
    // radius >= 20 % of the side (the triangle is the smallest of the four
    // shapes: 0.5 * 1.9 r * 1.7 r ~ 200 pixels at r = 0.2 * 56, less its
    // antialiased rim, which does not have the exact colour).
    int coloursPresent = 0;
    ColorRegion region;
    std::string colour;
    for (const auto &[name, rgb] : kColors) {
      ColorRegion found = findColor(example.image, rgb);
      if (found.count > 0) {
        ++coloursPresent;
        region = found;
        colour = name;
      }
    }
    ASSERT_EQ(coloursPresent, 1) << i;
    EXPECT_GT(region.count, 150) << i;
    if (example.questionType == "color") {
      EXPECT_EQ(example.answer, colour);
    } else {
      ASSERT_EQ(example.questionType, "shape");
      EXPECT_EQ(example.question, "what shape is " + colour + "?");
    }
  }
  EXPECT_GT(types["color"], 70);
  EXPECT_GT(types["shape"], 70);
  // No answer is common enough to make the question-only prior high: 6
  // colours and 4 shapes, each colour/shape equally likely.
  for (const auto &[answer, count] : answers)
    EXPECT_LT(count, 45) << answer;
}

TEST(SynthVqa, CaptionNamesTheUpperOrLeftShapeFirst) {
  int pairs = 0, vertical = 0;
  for (int64_t i = 0; i < 200; ++i) {
    SynthVqaExample example =
        drawSynthVqaExample(6, 1, i, 64, SynthTask::Caption);
    EXPECT_EQ(example.question, "caption en");
    EXPECT_EQ(example.questionType, "caption");
    // "a C1 S1" or "a C1 S1 (above|left of) a C2 S2" ("an" before orange)
    std::istringstream words(example.answer);
    std::vector<std::string> tokens;
    for (std::string word; words >> word;)
      tokens.push_back(word);
    ASSERT_TRUE(tokens.size() == 3 || tokens.size() == 7 || tokens.size() == 8)
        << example.answer;
    ASSERT_TRUE(kColors.count(tokens[1])) << example.answer;
    EXPECT_EQ(tokens[0], tokens[1] == "orange" ? "an" : "a");
    if (tokens.size() == 3)
      continue;
    ++pairs;
    bool above = tokens[3] == "above";
    vertical += above;
    const std::string &second = tokens[above ? 5 : 6];
    ASSERT_TRUE(kColors.count(second)) << example.answer;
    if (second == tokens[1])
      continue; // same colour twice: positions cannot be told apart here
    ColorRegion a = findColor(example.image, kColors.at(tokens[1]));
    ColorRegion b = findColor(example.image, kColors.at(second));
    ASSERT_GT(a.count, 0);
    ASSERT_GT(b.count, 0);
    double dx = b.cx() - a.cx(), dy = b.cy() - a.cy();
    if (above) {
      EXPECT_GE(dy, 0) << example.answer;
      EXPECT_GE(std::fabs(dy) + 1, std::fabs(dx)) << example.answer;
    } else {
      EXPECT_GE(dx, 0) << example.answer;
      EXPECT_GE(std::fabs(dx) + 1, std::fabs(dy)) << example.answer;
    }
  }
  EXPECT_GT(pairs, 60);
  EXPECT_GT(vertical, 15);
  EXPECT_LT(vertical, pairs - 15);
}

TEST(SynthVqa, TasksShareOneTokenizerAndCaptionSetsPromptWithoutAnswer) {
  testing::ScratchDir scratch("pgc-synth-tasks");
  SynthVqaOptions vqa = smallSet(scratch / "vqa", 2);
  vqa.task = SynthTask::Single;
  SynthVqaOptions captions = smallSet(scratch / "captions", 2);
  captions.task = SynthTask::Caption;
  generateSynthVqa(vqa);
  generateSynthVqa(captions);
  auto a = folderContents(scratch / "vqa");
  auto c = folderContents(scratch / "captions");
  EXPECT_EQ(a["tokenizer.model"], c["tokenizer.model"]);
  // pgc's settings have a name of their own: tokenizer.json in a model
  // folder is a Hugging Face fast-tokenizer file.
  EXPECT_EQ(a.count("tokenizer.json"), 0u);
  auto vqaConfig = nlohmann::json::parse(a["pgc_data.json"]);
  auto captionConfig = nlohmann::json::parse(c["pgc_data.json"]);
  EXPECT_EQ(vqaConfig["task"], "single");
  EXPECT_EQ(vqaConfig["prompt_template"], "answer {question}");
  EXPECT_EQ(captionConfig["task"], "caption");
  EXPECT_EQ(captionConfig["prompt_template"], "{question}");
  Tokenizer tokenizer = Tokenizer::load(scratch / "captions/tokenizer.model");
  VqaSplits splits = openImageFolderSplits(scratch / "captions", VqaColumns{});
  for (const VqaExample &example : splits.train.examples())
    for (int64_t id :
         tokenizer.encode(example.question + "\n" + example.answer))
      EXPECT_NE(id, tokenizer.unkId()) << example.answer;
  EXPECT_THROW(parseSynthTask("captions"), Error);
  EXPECT_EQ(parseSynthTask("single"), SynthTask::Single);
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
  // The answers column holds VQAv2's ten {answer, ...} objects.
  EXPECT_EQ(splits.train[0].answers, drawSynthVqaExample(1, 0, 0, 48).answers);
  EXPECT_EQ(splits.train[0].answers.size(), 10u);

  Tokenizer tokenizer = Tokenizer::load(out + "/tokenizer.model");
  std::ifstream in(out + "/pgc_data.json");
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
