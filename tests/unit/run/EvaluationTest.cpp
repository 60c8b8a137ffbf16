// Answer normalisation, exact match, VQA accuracy and the question-only prior
// against hand-computed values.
#include "runtime/train/Evaluation.h"

#include <cmath>
#include <gtest/gtest.h>

namespace pgc::train {
namespace {

TEST(Evaluation, NormalizesCasePunctuationArticlesAndSpaces) {
  EXPECT_EQ(normalizeAnswer("The Red!"), "red");
  EXPECT_EQ(normalizeAnswer("  a  Blue\tcircle. "), "blue circle");
  EXPECT_EQ(normalizeAnswer("An apple, the end"), "apple end");
  // Articles go only as whole words.
  EXPECT_EQ(normalizeAnswer("anchor theme"), "anchor theme");
  EXPECT_EQ(normalizeAnswer("..."), "");
}

TEST(Evaluation, ExactMatchComparesNormalizedStrings) {
  EXPECT_EQ(exactMatch("The square.", "square"), 1.0);
  EXPECT_EQ(exactMatch("squares", "square"), 0.0);
  EXPECT_EQ(exactMatch("", "square"), 0.0);
}

TEST(Evaluation, VqaAccuracyIsMatchesOverThreeCappedAtOne) {
  std::vector<std::string> humans = {"red",   "Red",  "blue",     "red.",
                                     "green", "blue", "dark red", "red",
                                     "RED",   "x"};
  EXPECT_DOUBLE_EQ(vqaAccuracy("red", humans), 1.0); // 5 matches
  EXPECT_DOUBLE_EQ(vqaAccuracy("blue", humans), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(vqaAccuracy("green", humans), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(vqaAccuracy("yellow", humans), 0.0);
  EXPECT_DOUBLE_EQ(vqaAccuracy("red", {}), 0.0);
}

TEST(Evaluation, TallyAveragesAndSkipsMissingAnswerLists) {
  AccuracyTally tally;
  tally.add("red", "red", {"red", "red", "red"});
  tally.add("blue", "red", {"blue", "red", "red"});
  tally.add("circle", "circle", {});
  EXPECT_DOUBLE_EQ(tally.exactMatch(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(tally.vqaAccuracy(), (1.0 + 1.0 / 3.0) / 2.0);
  EXPECT_TRUE(std::isnan(AccuracyTally().vqaAccuracy()));
}

// One or two human answers cap min(matches / 3, 1) at 1/3 or 2/3 even for a
// right prediction: such rows stay out of the VQA accuracy and its count.
TEST(Evaluation, TallyCountsVqaAccuracyOnlyOverRowsWithThreeAnswers) {
  AccuracyTally tally;
  tally.add("red", "red", {"red"});
  tally.add("red", "red", {"red", "red"});
  tally.add("blue", "blue", {"blue", "navy", "blue", "blue"});
  tally.add("green", "blue", {"blue", "green", "blue"});
  EXPECT_EQ(tally.examples, 4u);
  EXPECT_EQ(tally.withAnswers, 2u);
  EXPECT_DOUBLE_EQ(tally.exactMatch(), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(tally.vqaAccuracy(), (1.0 + 1.0 / 3.0) / 2.0);
}

VqaExample example(const std::string &question, const std::string &answer) {
  VqaExample e;
  e.question = question;
  e.answer = answer;
  return e;
}

TEST(Evaluation, QuestionOnlyPriorUsesTheMajorityAnswerPerQuestion) {
  VqaDataset train(
      "train",
      {example("what color?", "red"), example("What color?", "red"),
       example("what color?", "blue"), example("is there a circle?", "yes"),
       example("is there a circle?", "no"), example("what shape?", "circle")});
  // "is there a circle?" ties yes/no: "no" sorts first. An unseen question
  // gets the overall majority, "red".
  VqaDataset validation("validation", {example("what color?", "red"),
                                       example("what color?", "blue"),
                                       example("is there a circle?", "no"),
                                       example("is there a circle?", "yes"),
                                       example("how many?", "red")});
  EXPECT_DOUBLE_EQ(questionOnlyPrior(train, validation), 3.0 / 5.0);
}

} // namespace
} // namespace pgc::train
