// Laying out every example's tokens up front (cheap: no images), so that a
// long prompt is reported once and never stops a run later.
#include "runtime/train/SequenceLengths.h"

#include <algorithm>
#include <fmt/format.h>

namespace pgc::train {

SequenceLengths measureSequenceLengths(const PaliGemmaProcessor &processor,
                                       const VqaDataset &dataset,
                                       int64_t generationBudget, size_t count) {
  SequenceLengths lengths;
  lengths.name = dataset.name();
  lengths.examples =
      count > 0 ? std::min(count, dataset.size()) : dataset.size();
  for (size_t i = 0; i < lengths.examples; ++i) {
    const VqaExample &example = dataset[i];
    EncodedText text =
        processor.encodeText(example.question, example.answer, example.source);
    int64_t length = 0;
    for (int64_t mask : text.attentionMask)
      length += mask;
    int64_t need = length + text.droppedPromptTokens;
    bool cut = text.droppedPromptTokens > 0;
    if (generationBudget > 0) {
      EncodedText prompt = processor.encodePrompt(
          example.question, example.source, generationBudget);
      need = std::max<int64_t>(
          need, static_cast<int64_t>(prompt.inputIds.size()) +
                    prompt.droppedPromptTokens + generationBudget);
      cut = cut || prompt.droppedPromptTokens > 0;
    }
    lengths.longest = std::max(lengths.longest, need);
    if (cut && lengths.truncated++ == 0)
      lengths.firstTruncated = example.source;
  }
  return lengths;
}

std::string truncationWarning(const std::vector<SequenceLengths> &sets,
                              int64_t artifactSeqLen) {
  size_t truncated = 0;
  int64_t longest = artifactSeqLen;
  std::string first, perSet;
  for (const SequenceLengths &set : sets) {
    longest = std::max(longest, set.longest);
    if (set.truncated == 0)
      continue;
    if (first.empty())
      first = set.firstTruncated;
    perSet += fmt::format("{}{} in {}", perSet.empty() ? "" : ", ",
                          set.truncated, set.name);
    truncated += set.truncated;
  }
  if (truncated == 0)
    return "";
  return fmt::format("{} examples lose prompt tokens to the artifact's "
                     "sequence length {} ({}; first: {}); compile with "
                     "--seq-len {} to keep them whole",
                     truncated, artifactSeqLen, perSet, first, longest);
}

} // namespace pgc::train
