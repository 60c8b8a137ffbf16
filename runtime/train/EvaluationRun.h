// Evaluating a PaliGemma step on a validation set: mean loss over full
// batches and accuracies of greedily generated answers.
#pragma once

#include "runtime/train/Evaluation.h"
#include "runtime/train/Generation.h"

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

} // namespace pgc::train
