// VQA examples from Hugging Face "imagefolder" layouts: a folder of images plus
// metadata.jsonl or metadata.csv, split into train and validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// Which metadata columns hold what. `answers` holds every annotator's answer
/// for VQA-style scoring, as a list of strings or of objects with an "answer"
/// field (VQAv2's layout); in metadata.csv that list is written as JSON in
/// the cell. It is read from every row that has it (empty name: never read);
/// a row without it is an error only when `answersRequired` is set, as it is
/// when a settings file (pgc_data.json's answers_column) names the column.
struct VqaColumns {
  std::string fileName = "file_name";
  std::string question = "question";
  std::string answer = "multiple_choice_answer";
  std::string answers = "answers";
  bool answersRequired = false;
};

struct VqaExample {
  std::string imagePath; // the folder joined with file_name
  std::string question;
  std::string answer;
  std::vector<std::string> answers; // empty when the row has none
  std::string source; // "<folder>/metadata.{jsonl,csv}:<line>" for errors
};

/// An ordered list of examples; copies are cheap enough for splits.
class VqaDataset {
public:
  VqaDataset() = default;
  VqaDataset(std::string name, std::vector<VqaExample> examples)
      : name_(std::move(name)), examples_(std::move(examples)) {}

  /// Reads `folder`/metadata.jsonl or, when there is none, metadata.csv
  /// (both at once is an error, as in HF's imagefolder). In metadata.jsonl
  /// every line must be a JSON object with the configured columns as strings
  /// (numbers are accepted and printed); metadata.csv is RFC 4180 CSV whose
  /// header row names the columns (a UTF-8 byte order mark is skipped).
  /// Every file_name must name an existing file under `folder`. Throws
  /// pgc::Error "<folder>/metadata.{jsonl,csv}:<line>: ..." otherwise, the
  /// line being where the row starts. Blank lines are skipped; an empty
  /// dataset is an error.
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

/// Whether `folder` holds metadata.jsonl or metadata.csv: how callers tell
/// a split folder (or a one-folder set) from a folder of splits.
bool hasImageFolderMetadata(const std::string &folder);

/// `root`/train and `root`/validation (or `root`/val, `root`/test) if they
/// hold metadata (hasImageFolderMetadata); otherwise `root`'s own metadata
/// split with splitDataset(testSize, seed). The default test size is 0.1.
VqaSplits openImageFolderSplits(const std::string &root,
                                const VqaColumns &columns = {},
                                double testSize = 0.1, uint64_t seed = 0);

} // namespace pgc
