// The one check, before the first step, of how a dataset's examples fit the
// artifact's static sequence length: in the training layout and, for sets
// that are evaluated, in the generation layout with its new-token budget.
#pragma once

#include "models/paligemma/processor/PaliGemmaProcessor.h"
#include "runtime/data/ImageFolder.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::train {

/// How one set fits. Lengths count every position, image tokens included.
struct SequenceLengths {
  std::string name;
  size_t examples = 0;
  /// The longest uncut need of any example: prompt, answer and <eos> (the
  /// training layout) and, for an evaluated set, prompt plus the generation
  /// budget.
  int64_t longest = 0;
  /// Examples whose prompt loses tokens in either layout.
  size_t truncated = 0;
  std::string firstTruncated;
};

/// Lays out the first `count` examples of `dataset` (0: all) as training and,
/// with `generationBudget` > 0, as generation prompts with that many tokens of
/// room (what evaluation does). Throws pgc::Error naming the example where
/// even the answer cannot fit, as training would at that example.
SequenceLengths measureSequenceLengths(const PaliGemmaProcessor &processor,
                                       const VqaDataset &dataset,
                                       int64_t generationBudget,
                                       size_t count = 0);

/// One warning for all sets: "N examples lose prompt tokens (first: ...);
/// compile with --seq-len X", X covering every set's longest need. Empty
/// when nothing is cut.
std::string truncationWarning(const std::vector<SequenceLengths> &sets,
                              int64_t artifactSeqLen);

} // namespace pgc::train
