// Drawing the coloured-shape scenes, asking questions about them or captioning
// them, and writing the set with its tokenizer.
#include "runtime/data/SynthVqa.h"

#include "runtime/data/DataSettings.h"

#include "runtime/data/Random.h"
#include "runtime/data/Tokenizer.h"
#include "runtime/support/Error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

namespace pgc {
namespace {

namespace fs = std::filesystem;

struct NamedColor {
  const char *name;
  uint8_t rgb[3];
};

// Hues far apart, so that a small model can tell them apart at 56 px.
constexpr std::array<NamedColor, 6> kShapeColors = {{
    {"red", {220, 40, 40}},
    {"green", {40, 170, 60}},
    {"blue", {40, 80, 220}},
    {"yellow", {240, 210, 40}},
    {"purple", {140, 60, 180}},
    {"orange", {245, 140, 30}},
}};

// Backgrounds are greys so that no background is also a shape colour.
constexpr std::array<NamedColor, 4> kBackgrounds = {{
    {"white", {255, 255, 255}},
    {"light gray", {205, 205, 205}},
    {"dark gray", {80, 80, 80}},
    {"black", {15, 15, 15}},
}};

enum class ShapeKind { Circle, Square, Triangle, Diamond };
constexpr std::array<const char *, 4> kShapeNames = {"circle", "square",
                                                     "triangle", "diamond"};
constexpr int kMaxShapes = 5;

struct PlacedShape {
  ShapeKind kind;
  int color;
  double cx, cy, radius;
};

bool insideShape(const PlacedShape &shape, double x, double y) {
  double dx = x - shape.cx, dy = y - shape.cy, r = shape.radius;
  switch (shape.kind) {
  case ShapeKind::Circle:
    return dx * dx + dy * dy <= r * r;
  case ShapeKind::Square:
    return std::fabs(dx) <= 0.8 * r && std::fabs(dy) <= 0.8 * r;
  case ShapeKind::Diamond:
    return std::fabs(dx) + std::fabs(dy) <= r;
  case ShapeKind::Triangle: {
    // Apex up; the base sits at 0.7 r below the centre.
    if (dy > 0.7 * r || dy < -r)
      return false;
    double halfWidth = 0.95 * r * (dy + r) / (1.7 * r);
    return std::fabs(dx) <= halfWidth;
  }
  }
  return false;
}

// 4x4 supersampling gives soft edges like a photographed shape, without
// which a model could key on aliasing patterns.
void drawShape(RgbImage &image, const PlacedShape &shape) {
  int x0 = std::max(0, static_cast<int>(shape.cx - shape.radius) - 1);
  int x1 =
      std::min(image.width - 1, static_cast<int>(shape.cx + shape.radius) + 1);
  int y0 = std::max(0, static_cast<int>(shape.cy - shape.radius) - 1);
  int y1 =
      std::min(image.height - 1, static_cast<int>(shape.cy + shape.radius) + 1);
  const uint8_t *rgb = kShapeColors[shape.color].rgb;
  for (int y = y0; y <= y1; ++y) {
    uint8_t *row = image.row(y);
    for (int x = x0; x <= x1; ++x) {
      int covered = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx)
          covered += insideShape(shape, x + (sx + 0.5) / 4, y + (sy + 0.5) / 4);
      if (covered == 0)
        continue;
      for (int c = 0; c < 3; ++c) {
        int blended =
            (rgb[c] * covered + row[3 * x + c] * (16 - covered) + 8) / 16;
        row[3 * x + c] = static_cast<uint8_t>(blended);
      }
    }
  }
}

// Up to `wanted` non-overlapping shapes with radii in [minRadius, maxRadius]
// (fractions of the side); fewer when 200 attempts cannot fit them.
std::vector<PlacedShape> placeShapes(SeededRandom &random, int imageSize,
                                     int wanted, double minRadius,
                                     double maxRadius) {
  std::vector<PlacedShape> shapes;
  for (int attempt = 0;
       attempt < 200 && static_cast<int>(shapes.size()) < wanted; ++attempt) {
    PlacedShape shape;
    shape.kind = static_cast<ShapeKind>(random.below(kShapeNames.size()));
    shape.color = static_cast<int>(random.below(kShapeColors.size()));
    shape.radius =
        imageSize * (minRadius + (maxRadius - minRadius) * random.unit());
    double margin = shape.radius + 1;
    shape.cx = margin + (imageSize - 2 * margin) * random.unit();
    shape.cy = margin + (imageSize - 2 * margin) * random.unit();
    bool overlaps = false;
    for (const PlacedShape &other : shapes) {
      double distance = std::hypot(shape.cx - other.cx, shape.cy - other.cy);
      overlaps |= distance < shape.radius + other.radius + 2;
    }
    if (!overlaps)
      shapes.push_back(shape);
  }
  return shapes;
}

std::string colorQuestion(const char *shape) {
  return fmt::format("what color is the {}?", shape);
}
std::string shapeQuestion(const char *color) {
  return fmt::format("what shape is {}?", color);
}
std::string countQuestion(const char *shape) {
  return fmt::format("how many {}s are there?", shape);
}
std::string existsQuestion(const char *shape) {
  return fmt::format("is there a {}?", shape);
}

constexpr const char *kCaptionPrompt = "caption en";

// "a red circle", "an orange square".
std::string describe(const char *color, const char *shape) {
  return fmt::format("{} {} {}", color[0] == 'o' ? "an" : "a", color, shape);
}
std::string describe(const PlacedShape &shape) {
  return describe(kShapeColors[shape.color].name,
                  kShapeNames[static_cast<int>(shape.kind)]);
}

// "a red circle" or "a red circle above a blue square": the relation follows
// the axis along which the centres are further apart, and the upper (or left)
// shape is named first, so that each picture has exactly one caption.
std::string caption(const std::vector<PlacedShape> &shapes) {
  if (shapes.size() == 1)
    return describe(shapes[0]);
  const PlacedShape &a = shapes[0], &b = shapes[1];
  bool vertical = std::fabs(a.cy - b.cy) >= std::fabs(a.cx - b.cx);
  bool aFirst = vertical ? a.cy <= b.cy : a.cx <= b.cx;
  const PlacedShape &first = aFirst ? a : b, &second = aFirst ? b : a;
  return fmt::format("{} {} {}", describe(first),
                     vertical ? "above" : "left of", describe(second));
}

// Picks a question type at random; types that the scene cannot answer
// unambiguously (no shape kind or colour that occurs exactly once) fall
// back to counting, which always has an answer.
void askQuestion(SeededRandom &random, const std::vector<PlacedShape> &shapes,
                 SynthVqaExample &example) {
  std::array<int, 4> kindCount{};
  std::array<int, kShapeColors.size()> colorCount{};
  for (const PlacedShape &shape : shapes) {
    ++kindCount[static_cast<int>(shape.kind)];
    ++colorCount[shape.color];
  }
  std::vector<int> uniqueKinds, uniqueColors;
  for (size_t k = 0; k < kindCount.size(); ++k)
    if (kindCount[k] == 1)
      uniqueKinds.push_back(static_cast<int>(k));
  for (size_t c = 0; c < colorCount.size(); ++c)
    if (colorCount[c] == 1)
      uniqueColors.push_back(static_cast<int>(c));

  int type = static_cast<int>(random.below(4));
  if (type == 0 && !uniqueKinds.empty()) {
    int kind = uniqueKinds[random.below(uniqueKinds.size())];
    for (const PlacedShape &shape : shapes)
      if (static_cast<int>(shape.kind) == kind)
        example.answer = kShapeColors[shape.color].name;
    example.question = colorQuestion(kShapeNames[kind]);
    example.questionType = "color";
  } else if (type == 1 && !uniqueColors.empty()) {
    int color = uniqueColors[random.below(uniqueColors.size())];
    for (const PlacedShape &shape : shapes)
      if (shape.color == color)
        example.answer = kShapeNames[static_cast<int>(shape.kind)];
    example.question = shapeQuestion(kShapeColors[color].name);
    example.questionType = "shape";
  } else if (type == 3) {
    // Half the time ask about a kind that is present, so "yes" is as
    // frequent as "no".
    std::vector<int> present, absent;
    for (size_t k = 0; k < kindCount.size(); ++k)
      (kindCount[k] > 0 ? present : absent).push_back(static_cast<int>(k));
    bool askPresent = absent.empty() || random.below(2) == 0;
    const std::vector<int> &pool = askPresent ? present : absent;
    int kind = pool[random.below(pool.size())];
    example.question = existsQuestion(kShapeNames[kind]);
    example.answer = askPresent ? "yes" : "no";
    example.questionType = "exists";
  } else {
    int kind = static_cast<int>(random.below(kShapeNames.size()));
    example.question = countQuestion(kShapeNames[kind]);
    example.answer = std::to_string(kindCount[kind]);
    example.questionType = "count";
  }
}

// Answers that human annotators give next to the right one: the same
// thing in other words, or something a glance at the picture confuses it
// with. Normalisation (lower case, no punctuation, no articles) merges only
// some of them with the canonical answer, as in VQAv2.
std::vector<std::string> alternativeAnswers(const SynthVqaExample &example) {
  static const std::map<std::string, std::vector<std::string>> kColor = {
      {"red", {"dark red", "orange", "pink", "maroon"}},
      {"green", {"dark green", "lime", "teal", "blue"}},
      {"blue", {"navy", "dark blue", "purple", "light blue"}},
      {"yellow", {"gold", "orange", "light yellow", "tan"}},
      {"purple", {"violet", "blue", "magenta", "pink"}},
      {"orange", {"red", "yellow", "dark orange", "brown"}},
  };
  static const std::map<std::string, std::vector<std::string>> kShape = {
      {"circle", {"round", "oval", "ball", "dot"}},
      {"square", {"rectangle", "box", "cube", "diamond"}},
      {"triangle", {"pyramid", "arrow", "cone", "triangular"}},
      {"diamond", {"rhombus", "square", "kite", "star"}},
  };
  static const std::array<const char *, kMaxShapes + 1> kNumberWords = {
      "zero", "one", "two", "three", "four", "five"};
  const std::string &answer = example.answer;
  if (example.questionType == "color" && kColor.count(answer))
    return kColor.at(answer);
  if (example.questionType == "shape" && kShape.count(answer))
    return kShape.at(answer);
  if (example.questionType == "exists")
    return answer == "yes" ? std::vector<std::string>{"yeah", "yes it is", "no"}
                           : std::vector<std::string>{"nope", "none", "yes"};
  if (example.questionType == "count") {
    int n = std::stoi(answer);
    std::vector<std::string> others = {kNumberWords[n]};
    if (n > 0)
      others.push_back(std::to_string(n - 1));
    others.push_back(std::to_string(n + 1));
    others.push_back(n == 0 ? "none" : "many");
    return others;
  }
  return {};
}

// Ten annotators as VQAv2 has them: six to ten give the canonical answer
// (some capitalised, with a full stop or an article, which normalisation
// undoes), the rest an alternative. The canonical answer stays the most
// frequent, as multiple_choice_answer is in VQAv2. Captions keep one answer:
// VQA accuracy does not apply to them.
void annotate(SeededRandom &random, SynthVqaExample &example) {
  std::vector<std::string> alternatives = alternativeAnswers(example);
  if (alternatives.empty()) {
    example.answers = {example.answer};
    return;
  }
  int canonical = static_cast<int>(random.between(6, 10));
  for (int i = 0; i < 10; ++i) {
    if (i >= canonical) {
      example.answers.push_back(
          alternatives[random.below(alternatives.size())]);
      continue;
    }
    std::string answer = example.answer;
    switch (random.below(8)) {
    case 0:
      answer[0] = static_cast<char>(std::toupper(answer[0]));
      break;
    case 1:
      answer += ".";
      break;
    case 2:
      if (example.questionType == "shape")
        answer = "a " + answer;
      break;
    default:
      break;
    }
    example.answers.push_back(answer);
  }
  // Annotators answer in no particular order.
  for (size_t i = example.answers.size() - 1; i > 0; --i)
    std::swap(example.answers[i], example.answers[random.below(i + 1)]);
}

void writePlainFile(const fs::path &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  if (!out ||
      !out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) ||
      !out.flush())
    fail("{}: cannot write: {}", path.string(), std::strerror(errno));
}

// VQAv2's layout of the answers column: one object per annotator.
nlohmann::json answerRecords(const std::vector<std::string> &answers) {
  nlohmann::json records = nlohmann::json::array();
  for (size_t i = 0; i < answers.size(); ++i)
    records.push_back({{"answer", answers[i]},
                       {"answer_confidence", "yes"},
                       {"answer_id", i + 1}});
  return records;
}

void writeSplit(const SynthVqaOptions &options, const fs::path &folder,
                int split, int64_t count) {
  fs::create_directories(folder);
  std::string metadata;
  for (int64_t i = 0; i < count; ++i) {
    SynthVqaExample example = drawSynthVqaExample(
        options.seed, split, i, options.imageSize, options.task);
    std::string fileName = fmt::format("{:06d}.png", i);
    // zlib level 1: flat colours compress well anyway, and decoding speed
    // does not depend on the level.
    writePlainFile(folder / fileName, encodePng(example.image, 1));
    nlohmann::json row = {{"file_name", fileName},
                          {"question", example.question},
                          {"multiple_choice_answer", example.answer},
                          {"answers", answerRecords(example.answers)},
                          {"question_type", example.questionType}};
    metadata += row.dump() + "\n";
  }
  writePlainFile(folder / "metadata.jsonl", metadata);
}

void writeTokenizer(const SynthVqaOptions &options, const fs::path &folder) {
  TokenizerTrainingOptions training;
  training.vocabSize = options.vocabSize;
  std::string model = trainTokenizer(synthVqaCorpus(), training);
  writePlainFile(folder / "tokenizer.model", model);
  Tokenizer tokenizer = Tokenizer::fromSerialized(model, "tokenizer.model");
  int64_t vocab = tokenizer.vocabSize();
  auto newline = tokenizer.pieceId("\n");
  if (!newline)
    fail("the trained tokenizer has no \"\\n\" piece");
  nlohmann::json config = {
      {"tokenizer_model", "tokenizer.model"},
      {"sentencepiece_vocab_size", vocab},
      {"image_token_id", vocab},
      // The model's embedding table: SentencePiece pieces + <image>, padded
      // to a multiple of 64 as PaliGemma's is.
      {"model_vocab_size", (vocab + 1 + 63) / 64 * 64},
      {"pad_token_id", tokenizer.padId()},
      {"eos_token_id", tokenizer.eosId()},
      {"bos_token_id", tokenizer.bosId()},
      {"unk_token_id", tokenizer.unkId()},
      {"newline_token_id", *newline},
      {"image_size", options.imageSize},
      {"task", synthTaskName(options.task)},
      {"prompt_template",
       options.task == SynthTask::Caption ? "{question}" : "answer {question}"},
      {"question_column", "question"},
      {"answer_column", "multiple_choice_answer"},
      {"answers_column", "answers"},
  };
  writePlainFile(folder / kDataSettingsFile, config.dump(2) + "\n");
}

} // namespace

SynthTask parseSynthTask(const std::string &name) {
  if (name == "scenes")
    return SynthTask::Scenes;
  if (name == "single")
    return SynthTask::Single;
  if (name == "caption")
    return SynthTask::Caption;
  fail("unknown synthetic task '{}' (expected scenes, single or caption)",
       name);
}

const char *synthTaskName(SynthTask task) {
  switch (task) {
  case SynthTask::Scenes:
    return "scenes";
  case SynthTask::Single:
    return "single";
  case SynthTask::Caption:
    return "caption";
  }
  return "?";
}

SynthVqaExample drawSynthVqaExample(uint64_t seed, int split, int64_t index,
                                    int imageSize, SynthTask task) {
  // Scenes keep the stream they had before tasks existed, so that existing
  // sets stay reproducible; the other tasks get streams of their own.
  uint64_t stream =
      static_cast<uint64_t>(split) + 100 + 1000 * static_cast<uint64_t>(task);
  SeededRandom random =
      SeededRandom::forStream(seed, stream, static_cast<uint64_t>(index));
  SynthVqaExample example;
  example.image = RgbImage(imageSize, imageSize);
  const uint8_t *background =
      kBackgrounds[random.below(kBackgrounds.size())].rgb;
  for (size_t i = 0; i < example.image.pixels.size(); i += 3)
    std::memcpy(&example.image.pixels[i], background, 3);
  std::vector<PlacedShape> shapes;
  switch (task) {
  case SynthTask::Scenes:
    shapes = placeShapes(random, imageSize,
                         static_cast<int>(random.between(1, kMaxShapes)), 0.07,
                         0.13);
    break;
  case SynthTask::Single:
    shapes = placeShapes(random, imageSize, 1, 0.20, 0.30);
    break;
  case SynthTask::Caption:
    shapes = placeShapes(random, imageSize,
                         static_cast<int>(random.between(1, 2)), 0.14, 0.22);
    break;
  }
  for (const PlacedShape &shape : shapes)
    drawShape(example.image, shape);
  switch (task) {
  case SynthTask::Scenes:
    askQuestion(random, shapes, example);
    break;
  case SynthTask::Single: {
    const PlacedShape &shape = shapes[0];
    if (random.below(2) == 0) {
      example.question =
          colorQuestion(kShapeNames[static_cast<int>(shape.kind)]);
      example.answer = kShapeColors[shape.color].name;
      example.questionType = "color";
    } else {
      example.question = shapeQuestion(kShapeColors[shape.color].name);
      example.answer = kShapeNames[static_cast<int>(shape.kind)];
      example.questionType = "shape";
    }
    break;
  }
  case SynthTask::Caption:
    example.question = kCaptionPrompt;
    example.answer = caption(shapes);
    example.questionType = "caption";
    break;
  }
  // Drawn last, so that images, questions and answers are those of sets
  // written before the answer lists.
  annotate(random, example);
  return example;
}

std::vector<std::string> synthVqaCorpus() {
  std::vector<std::string> corpus;
  auto prompt = [](const std::string &question) {
    return "answer " + question;
  };
  for (const char *shape : kShapeNames) {
    corpus.push_back(prompt(colorQuestion(shape)));
    corpus.push_back(prompt(countQuestion(shape)));
    corpus.push_back(prompt(existsQuestion(shape)));
    corpus.push_back(shape);
  }
  for (const NamedColor &color : kShapeColors) {
    corpus.push_back(prompt(shapeQuestion(color.name)));
    corpus.push_back(color.name);
  }
  for (int count = 0; count <= kMaxShapes; ++count)
    corpus.push_back(std::to_string(count));
  corpus.push_back("yes");
  corpus.push_back("no");
  // Captions: every single-shape description, and every pair in both
  // relations.
  corpus.push_back(kCaptionPrompt);
  std::vector<std::string> descriptions;
  for (const NamedColor &color : kShapeColors)
    for (const char *shape : kShapeNames)
      descriptions.push_back(describe(color.name, shape));
  for (const std::string &first : descriptions) {
    corpus.push_back(first);
    for (const std::string &second : descriptions)
      for (const char *relation : {"above", "left of"})
        corpus.push_back(first + " " + relation + " " + second);
  }
  return corpus;
}

void generateSynthVqa(const SynthVqaOptions &options) {
  if (options.outDir.empty())
    fail("synth-vqa: no output folder given");
  if (options.trainCount < 1 || options.validationCount < 1)
    fail("{}: need at least one train and one validation example (got {} "
         "and {})",
         options.outDir, options.trainCount, options.validationCount);
  if (options.imageSize < 16 || options.imageSize > 4096)
    fail("{}: image size {} is outside 16..4096", options.outDir,
         options.imageSize);
  fs::path out = fs::path(options.outDir);
  std::error_code error;
  if (fs::exists(out, error) &&
      (!fs::is_directory(out, error) || !fs::is_empty(out, error)))
    fail("{}: already exists and is not an empty folder", options.outDir);
  fs::path staging = out;
  staging += fmt::format(".partial-{}", ::getpid());
  fs::remove_all(staging, error);
  try {
    fs::create_directories(staging);
    writeTokenizer(options, staging);
    writeSplit(options, staging / "train", 0, options.trainCount);
    writeSplit(options, staging / "validation", 1, options.validationCount);
    fs::rename(staging, out);
  } catch (const fs::filesystem_error &e) {
    fs::remove_all(staging, error);
    fail("{}: {}", options.outDir, e.code().message());
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
}

} // namespace pgc
