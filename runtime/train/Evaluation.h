// Scoring generated answers: normalisation, exact match and the VQA accuracy.
#pragma once

#include "runtime/data/ImageFolder.h"

#include <string>
#include <vector>

namespace pgc::train {

/// Lower case, punctuation removed, the articles "a", "an" and "the" dropped
/// and whitespace collapsed to single spaces (SQuAD-style normalisation).
std::string normalizeAnswer(const std::string &answer);

/// 1 if the normalised prediction equals the normalised reference, else 0.
double exactMatch(const std::string &prediction, const std::string &reference);

/// The standard VQA accuracy: min(#human answers equal to the prediction / 3,
/// 1), comparing normalised strings. 0 for an empty answer list.
double vqaAccuracy(const std::string &prediction,
                   const std::vector<std::string> &humanAnswers);

/// The fewest human answers a row needs for its VQA accuracy to count: with
/// fewer, min(matches / 3, 1) cannot reach 1 (a set with one answer per row
/// would cap the metric at 1/3).
constexpr size_t kMinVqaAnswers = 3;

/// Sums of per-example scores, and their means.
struct AccuracyTally {
  double exactMatchSum = 0;
  double vqaAccuracySum = 0;
  size_t examples = 0;
  /// Examples whose answer list has at least kMinVqaAnswers entries: the
  /// only ones VQA accuracy is averaged over.
  size_t withAnswers = 0;

  void add(const std::string &prediction, const std::string &reference,
           const std::vector<std::string> &humanAnswers);
  double exactMatch() const;
  /// NaN when no example had kMinVqaAnswers answers.
  double vqaAccuracy() const;
};

/// The best exact-match accuracy on `validation` without looking at the
/// image: each question gets the most frequent training answer of the same
/// (normalised) question text, or the overall most frequent answer for an
/// unseen question. Ties go to the answer that sorts first.
double questionOnlyPrior(const VqaDataset &train, const VqaDataset &validation);

} // namespace pgc::train
