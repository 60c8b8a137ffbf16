// Synthetic image-text sets over one world of coloured shapes (VQA on busy
// scenes, VQA on one large shape, captions), with the tokenizer they share,
// for end-to-end training without downloads.
#pragma once

#include "runtime/data/Image.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// What a set asks about its images. All tasks draw from the same world
/// (shapes, colours, backgrounds) and share one tokenizer, so a model
/// pretrained on captions can be fine-tuned on either VQA task.
enum class SynthTask {
  /// 1-5 small shapes (radius 7-13 % of the side); colour, shape, count and
  /// yes/no questions.
  Scenes,
  /// One large shape (radius 20-30 % of the side); "what color is the
  /// <shape>?" and "what shape is <color>?" in equal parts.
  Single,
  /// 1-2 shapes (radius 14-22 %) with the prompt "caption en" and a caption
  /// such as "a red circle above a blue square" (the upper or left shape
  /// first, so that the caption is a function of the picture).
  Caption,
};

/// "scenes", "single", "caption"; fails naming the value otherwise.
SynthTask parseSynthTask(const std::string &name);
const char *synthTaskName(SynthTask task);

struct SynthVqaOptions {
  std::string outDir;
  int64_t trainCount = 1000;
  int64_t validationCount = 100;
  int imageSize = 224;
  uint64_t seed = 0;
  /// Upper bound on the SentencePiece vocabulary (training may stop
  /// earlier: the corpus has only a few dozen words). 224 pieces + <image>
  /// fit the 256-entry embedding table of examples/tiny-paligemma.
  int vocabSize = 224;
  SynthTask task = SynthTask::Scenes;
};

/// One drawn example: an image and a question about it.
struct SynthVqaExample {
  RgbImage image;
  std::string question;
  std::string answer;
  /// Ten annotators' answers as in VQAv2 (six to ten of them the answer,
  /// possibly capitalised or punctuated, the rest synonyms or confusions);
  /// captions have only `answer`.
  std::vector<std::string> answers;
  std::string questionType; // color, shape, count, exists, caption
};

/// The example `index` of split `split` (0 train, 1 validation): a pure
/// function of its arguments, so sets are reproducible and examples can be
/// drawn in any order.
SynthVqaExample drawSynthVqaExample(uint64_t seed, int split, int64_t index,
                                    int imageSize,
                                    SynthTask task = SynthTask::Scenes);

/// Every prompt and every answer or caption any task can produce: the
/// tokenizer's training corpus, so that the vocabulary depends neither on how
/// many examples were drawn nor on the task.
std::vector<std::string> synthVqaCorpus();

/// Writes outDir/{train,validation}/{NNNNNN.png, metadata.jsonl} (columns
/// file_name, question, multiple_choice_answer, answers as VQAv2's list of
/// {answer, answer_confidence, answer_id} objects, question_type),
/// outDir/tokenizer.model and outDir/pgc_data.json (special ids, the
/// <image> id = SentencePiece vocabulary size, a model vocabulary rounded up
/// to a multiple of 64, the image size, the task and its prompt template:
/// "answer {question}" for VQA, "{question}" for captions, whose question
/// column holds "caption en"). Everything is
/// written into a staging folder renamed into place at the end, so an
/// interrupted run leaves nothing at outDir. Refuses an existing non-empty
/// outDir.
void generateSynthVqa(const SynthVqaOptions &options);

} // namespace pgc
