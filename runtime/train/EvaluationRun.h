// Evaluating a PaliGemma step on a validation set: mean loss over full
// batches and accuracies of greedily generated answers.
#pragma once

#include "runtime/train/Evaluation.h"
#include "runtime/train/Generation.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgc::train {

/// forward's inputs from a collated batch.
TensorMap modelInputs(const Batch &batch);

struct EvalResult {
  double loss = 0; ///< NaN when the set holds no full batch
  AccuracyTally tally;
  /// The first few "question -> 'prediction' (reference 'answer')".
  std::vector<std::string> samples;
  /// One generated answer per evaluated example, in dataset order.
  std::vector<std::string> predictions;
};

/// Loss of `forward` averaged over the full batches of the first
/// `maxSamples` examples (0: all), then greedy answers (generateAnswers) for
/// each of them scored against the answer and the answers list.
EvalResult evaluateVqa(Session &session, const ModelIO &io,
                       const VqaDataset &validation, int64_t maxSamples,
                       int64_t maxNewTokens);

/// The metrics.jsonl record of an evaluation: eval_loss, eval_accuracy,
/// eval_samples and, where rows carry at least kMinVqaAnswers answers,
/// eval_vqa_accuracy over those rows and their count, eval_vqa_samples.
nlohmann::json evalRecord(const EvalResult &eval);

/// "loss L  accuracy A[  vqa_accuracy V (over the M with >= 3 answers)]
/// (N examples)", as logged.
std::string evalSummary(const EvalResult &eval);

/// One JSON line per evaluated example: index, question, prediction, answer.
std::string predictionsJsonl(const EvalResult &eval,
                             const VqaDataset &validation);

} // namespace pgc::train
