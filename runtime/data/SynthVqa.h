// A synthetic VQA data set of coloured shapes, with a matching tokenizer, for
// end-to-end training without downloads.
#pragma once

#include "runtime/data/Image.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

struct SynthVqaOptions {
  std::string outDir;
  int64_t trainCount = 1000;
  int64_t validationCount = 100;
  int imageSize = 224;
  uint64_t seed = 0;
  /// Upper bound on the SentencePiece vocabulary (training may stop
  /// earlier: the corpus has only a few dozen words).
  int vocabSize = 256;
};

/// One drawn example: an image and a question about it.
struct SynthVqaExample {
  RgbImage image;
  std::string question;
  std::string answer;
  std::string questionType; // color, shape, count, exists
};

/// The example `index` of split `split` (0 train, 1 validation): a pure
/// function of its arguments, so sets are reproducible and examples can be
/// drawn in any order.
SynthVqaExample drawSynthVqaExample(uint64_t seed, int split, int64_t index,
                                    int imageSize);

/// Every prompt (formatted with "answer {question}") and every answer the
/// generator can produce: the tokenizer's training corpus, so that the
/// vocabulary does not depend on how many examples were drawn.
std::vector<std::string> synthVqaCorpus();

/// Writes outDir/{train,validation}/{NNNNNN.png, metadata.jsonl},
/// outDir/tokenizer.model and outDir/tokenizer.json (special ids, the
/// <image> id = SentencePiece vocabulary size, a model vocabulary rounded up
/// to a multiple of 64, the image size and prompt template). Everything is
/// written into a staging folder renamed into place at the end, so an
/// interrupted run leaves nothing at outDir. Refuses an existing non-empty
/// outDir.
void generateSynthVqa(const SynthVqaOptions &options);

} // namespace pgc
