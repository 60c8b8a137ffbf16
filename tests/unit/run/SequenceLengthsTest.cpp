// The up-front length check: the longest need of a set in the training and
// generation layouts, the examples that lose prompt tokens, and the one
// warning, against lengths counted here from the tokenizer's own ids.
#include "runtime/train/SequenceLengths.h"

#include "runtime/data/SynthVqa.h"
#include "runtime/data/Tokenizer.h"

#include <gtest/gtest.h>

namespace pgc::train {
namespace {

VqaExample example(const std::string &question, const std::string &answer,
                   const std::string &source) {
  VqaExample e;
  e.question = question;
  e.answer = answer;
  e.source = source;
  return e;
}

class SequenceLengthsTest : public ::testing::Test {
protected:
  SequenceLengthsTest()
      : tokenizer(Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()),
                                            "synthetic tokenizer")) {}
  PaliGemmaProcessor processor(int64_t maxLength) const {
    PaliGemmaProcessorConfig c;
    c.imageSeqLength = 4;
    c.imageTokenId = tokenizer.vocabSize();
    c.imageSize = 28;
    c.maxLength = maxLength;
    return PaliGemmaProcessor(tokenizer, c);
  }
  // 4 image tokens, <bos>, the prompt, "\n".
  int64_t promptLength(const std::string &question) const {
    return 4 + 1 +
           static_cast<int64_t>(tokenizer.encode("answer " + question).size()) +
           1;
  }
  int64_t answerLength(const std::string &answer) const {
    return static_cast<int64_t>(tokenizer.encode(answer).size()) + 1;
  }
  Tokenizer tokenizer;
};

TEST_F(SequenceLengthsTest, CountsTrainingAndGenerationNeeds) {
  const std::string shortQ = "is there a circle?";
  const std::string longQ =
      "what color is the circle? what color is the square? what color is "
      "the triangle?";
  VqaDataset set("validation",
                 {example(shortQ, "yes", "v:1"), example(longQ, "red", "v:2"),
                  example(shortQ, "no", "v:3")});
  const int64_t budget = 6;
  int64_t shortTraining = promptLength(shortQ) + answerLength("yes");
  int64_t longTraining = promptLength(longQ) + answerLength("red");
  int64_t longGeneration = promptLength(longQ) + budget;
  ASSERT_GT(longGeneration, longTraining); // the budget decides here
  // Room for the short example in both forms, not for the long one.
  int64_t maxLength = promptLength(shortQ) + budget;
  ASSERT_GE(maxLength, shortTraining);
  ASSERT_LT(maxLength, longTraining);

  SequenceLengths training =
      measureSequenceLengths(processor(maxLength), set, 0);
  EXPECT_EQ(training.examples, 3u);
  EXPECT_EQ(training.longest, longTraining);
  EXPECT_EQ(training.truncated, 1u);
  EXPECT_EQ(training.firstTruncated, "v:2");

  SequenceLengths evaluated =
      measureSequenceLengths(processor(maxLength), set, budget);
  EXPECT_EQ(evaluated.longest, longGeneration);
  EXPECT_EQ(evaluated.truncated, 1u);

  // A longer sequence fits training but still cuts the generation prompt.
  SequenceLengths trainingFits =
      measureSequenceLengths(processor(longTraining), set, budget);
  EXPECT_EQ(trainingFits.truncated, 1u);
  EXPECT_EQ(measureSequenceLengths(processor(longTraining), set, 0).truncated,
            0u);
  EXPECT_EQ(
      measureSequenceLengths(processor(longGeneration), set, budget).truncated,
      0u);
  // Only the first `count` examples are laid out.
  EXPECT_EQ(
      measureSequenceLengths(processor(maxLength), set, budget, 1).truncated,
      0u);
}

TEST_F(SequenceLengthsTest, OneWarningCoversEverySet) {
  SequenceLengths train{"train", 10, 40, 2, "t:4"};
  SequenceLengths validation{"validation", 5, 45, 1, "v:1"};
  SequenceLengths fitting{"other", 5, 20, 0, ""};
  std::string warning = truncationWarning({train, validation, fitting}, 32);
  EXPECT_NE(warning.find("3 examples lose prompt tokens"), std::string::npos)
      << warning;
  EXPECT_NE(warning.find("2 in train, 1 in validation"), std::string::npos)
      << warning;
  EXPECT_NE(warning.find("first: t:4"), std::string::npos) << warning;
  EXPECT_NE(warning.find("--seq-len 45"), std::string::npos) << warning;
  EXPECT_EQ(truncationWarning({fitting}, 32), "");
}

} // namespace
} // namespace pgc::train
