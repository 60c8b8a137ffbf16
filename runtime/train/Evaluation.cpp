// Answer normalisation and the two accuracies reported by `pgc run`.
#include "runtime/train/Evaluation.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

namespace pgc::train {

std::string normalizeAnswer(const std::string &answer) {
  std::string cleaned;
  for (char c : answer) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::ispunct(u))
      continue;
    cleaned += std::isspace(u) ? ' ' : static_cast<char>(std::tolower(u));
  }
  std::istringstream words(cleaned);
  std::string word, result;
  while (words >> word) {
    if (word == "a" || word == "an" || word == "the")
      continue;
    if (!result.empty())
      result += ' ';
    result += word;
  }
  return result;
}

double exactMatch(const std::string &prediction, const std::string &reference) {
  return normalizeAnswer(prediction) == normalizeAnswer(reference) ? 1.0 : 0.0;
}

double vqaAccuracy(const std::string &prediction,
                   const std::vector<std::string> &humanAnswers) {
  std::string normalized = normalizeAnswer(prediction);
  double matches = static_cast<double>(std::count_if(
      humanAnswers.begin(), humanAnswers.end(), [&](const std::string &human) {
        return normalizeAnswer(human) == normalized;
      }));
  return std::min(matches / 3.0, 1.0);
}

void AccuracyTally::add(const std::string &prediction,
                        const std::string &reference,
                        const std::vector<std::string> &humanAnswers) {
  exactMatchSum += train::exactMatch(prediction, reference);
  ++examples;
  if (humanAnswers.size() >= kMinVqaAnswers) {
    vqaAccuracySum += train::vqaAccuracy(prediction, humanAnswers);
    ++withAnswers;
  }
}

double AccuracyTally::exactMatch() const {
  return examples ? exactMatchSum / static_cast<double>(examples) : 0.0;
}

double AccuracyTally::vqaAccuracy() const {
  return withAnswers ? vqaAccuracySum / static_cast<double>(withAnswers)
                     : std::numeric_limits<double>::quiet_NaN();
}

namespace {

std::string mostFrequent(const std::map<std::string, size_t> &counts) {
  std::string best;
  size_t bestCount = 0;
  for (const auto &[answer, count] : counts)
    if (count > bestCount) {
      best = answer;
      bestCount = count;
    }
  return best;
}

} // namespace

double questionOnlyPrior(const VqaDataset &train,
                         const VqaDataset &validation) {
  std::map<std::string, std::map<std::string, size_t>> byQuestion;
  std::map<std::string, size_t> overall;
  for (const VqaExample &example : train.examples()) {
    std::string answer = normalizeAnswer(example.answer);
    ++byQuestion[normalizeAnswer(example.question)][answer];
    ++overall[answer];
  }
  std::map<std::string, std::string> guess;
  for (const auto &[question, counts] : byQuestion)
    guess[question] = mostFrequent(counts);
  std::string fallback = mostFrequent(overall);
  if (validation.size() == 0)
    return 0.0;
  double correct = 0;
  for (const VqaExample &example : validation.examples()) {
    auto it = guess.find(normalizeAnswer(example.question));
    const std::string &prediction = it == guess.end() ? fallback : it->second;
    correct += exactMatch(prediction, example.answer);
  }
  return correct / static_cast<double>(validation.size());
}

} // namespace pgc::train
