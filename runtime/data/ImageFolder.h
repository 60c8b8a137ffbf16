// VQA examples from Hugging Face "imagefolder" layouts: a folder of images plus
// metadata.jsonl, split into train and validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// Which metadata.jsonl columns hold what. `answers` is optional (empty: not
/// read); it holds every annotator's answer for VQA-style scoring, as a list
/// of strings or of objects with an "answer" field (VQAv2's layout).
struct VqaColumns {
  std::string fileName = "file_name";
  std::string question = "question";
  std::string answer = "multiple_choice_answer";
  std::string answers;
};

struct VqaExample {
  std::string imagePath; // the folder joined with file_name
  std::string question;
  std::string answer;
  std::vector<std::string> answers; // empty unless the column is configured
  std::string source;               // "<metadata.jsonl>:<line>" for errors
};

/// An ordered list of examples; copies are cheap enough for splits.
class VqaDataset {
public:
  VqaDataset() = default;
  VqaDataset(std::string name, std::vector<VqaExample> examples)
      : name_(std::move(name)), examples_(std::move(examples)) {}

  /// Reads `folder`/metadata.jsonl. Every line must be a JSON object with
  /// the configured columns as strings (numbers are accepted and printed),
  /// and every file_name must name an existing file under `folder`.
  /// Throws pgc::Error "<folder>/metadata.jsonl:<line>: ..." otherwise.
  /// Blank lines are skipped; an empty dataset is an error.
  static VqaDataset openImageFolder(const std::string &folder,
                                    const VqaColumns &columns = {});

  size_t size() const { return examples_.size(); }
  const VqaExample &operator[](size_t i) const { return examples_[i]; }
  const std::vector<VqaExample> &examples() const { return examples_; }
  const std::string &name() const { return name_; }

private:
  std::string name_;
  std::vector<VqaExample> examples_;
};

struct VqaSplits {
  VqaDataset train;
  VqaDataset validation;
};

/// Splits like datasets' train_test_split(test_size, seed) in shape: a
/// seeded permutation, the first ceil(testSize * n) examples of it go to
/// validation. Both halves keep the original order. The permutation is
/// pgc's own (see Random.h), not numpy's, so the members differ from HF's.
VqaSplits splitDataset(const VqaDataset &dataset, double testSize,
                       uint64_t seed);

/// `root`/train and `root`/validation (or `root`/val, `root`/test) if they
/// hold metadata.jsonl; otherwise `root`/metadata.jsonl split with
/// splitDataset(testSize, seed). The seed's default test size is 0.1.
VqaSplits openImageFolderSplits(const std::string &root,
                                const VqaColumns &columns = {},
                                double testSize = 0.1, uint64_t seed = 0);

} // namespace pgc
