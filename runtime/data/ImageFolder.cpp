// Reading and validating metadata.jsonl up front, so that a bad line fails at
// open and not mid-epoch.
#include "runtime/data/ImageFolder.h"

#include "runtime/data/Random.h"
#include "runtime/support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace pgc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string columnList(const json &row) {
  std::string names;
  for (auto it = row.begin(); it != row.end(); ++it)
    names += (names.empty() ? "" : ", ") + it.key();
  return names;
}

std::string textOf(const json &value, const std::string &where,
                   const std::string &column) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_number_integer())
    return std::to_string(value.get<int64_t>());
  if (value.is_number() || value.is_boolean())
    return value.dump();
  fail("{}: column '{}' must be a string, not {}", where, column,
       value.type_name());
}

const json &requireColumn(const json &row, const std::string &column,
                          const std::string &where) {
  auto it = row.find(column);
  if (it == row.end())
    fail("{}: no column '{}' (the line has: {})", where, column,
         columnList(row));
  return *it;
}

std::vector<std::string> answersOf(const json &value, const std::string &where,
                                   const std::string &column) {
  if (!value.is_array())
    fail("{}: column '{}' must be a list of answers, not {}", where, column,
         value.type_name());
  std::vector<std::string> answers;
  for (const json &item : value) {
    if (item.is_object()) {
      auto answer = item.find("answer");
      if (answer == item.end())
        fail("{}: an entry of column '{}' has no 'answer' field", where,
             column);
      answers.push_back(textOf(*answer, where, column + ".answer"));
    } else {
      answers.push_back(textOf(item, where, column));
    }
  }
  return answers;
}

} // namespace

VqaDataset VqaDataset::openImageFolder(const std::string &folder,
                                       const VqaColumns &columns) {
  std::string metadataPath = (fs::path(folder) / "metadata.jsonl").string();
  std::ifstream in(metadataPath);
  if (!in)
    fail("{}: cannot open (an imagefolder needs metadata.jsonl)", metadataPath);
  std::vector<VqaExample> examples;
  std::string line;
  for (int64_t lineNumber = 1; std::getline(in, line); ++lineNumber) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = metadataPath + ":" + std::to_string(lineNumber);
    json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded())
      fail("{}: not valid JSON", where);
    if (!row.is_object())
      fail("{}: expected a JSON object, got {}", where, row.type_name());
    VqaExample example;
    std::string fileName = textOf(requireColumn(row, columns.fileName, where),
                                  where, columns.fileName);
    if (fileName.empty())
      fail("{}: column '{}' is empty", where, columns.fileName);
    // Images live in the dataset's folder: an absolute name or a ".."
    // component would let a metadata file make pgc read any file.
    fs::path relative(fileName);
    if (relative.is_absolute() || relative.has_root_name() ||
        std::any_of(relative.begin(), relative.end(),
                    [](const fs::path &part) { return part == ".."; }))
      fail("{}: {} '{}' leaves the dataset folder (use a path relative to "
           "it, without '..')",
           where, columns.fileName, fileName);
    example.imagePath = (fs::path(folder) / fileName).string();
    std::error_code error;
    if (!fs::is_regular_file(example.imagePath, error))
      fail("{}: image '{}' not found", where, example.imagePath);
    example.question = textOf(requireColumn(row, columns.question, where),
                              where, columns.question);
    example.answer = textOf(requireColumn(row, columns.answer, where), where,
                            columns.answer);
    if (!columns.answers.empty())
      example.answers = answersOf(requireColumn(row, columns.answers, where),
                                  where, columns.answers);
    example.source = std::move(where);
    examples.push_back(std::move(example));
  }
  if (in.bad())
    fail("{}: read failed", metadataPath);
  if (examples.empty())
    fail("{}: no examples", metadataPath);
  return VqaDataset(folder, std::move(examples));
}

VqaSplits splitDataset(const VqaDataset &dataset, double testSize,
                       uint64_t seed) {
  if (!(testSize > 0.0 && testSize < 1.0))
    fail("{}: test size {} must lie strictly between 0 and 1", dataset.name(),
         testSize);
  size_t n = dataset.size();
  size_t testCount = static_cast<size_t>(std::ceil(testSize * n));
  if (testCount == 0 || testCount >= n)
    fail("{}: a test size of {} leaves {} of {} examples for validation",
         dataset.name(), testSize, testCount, n);
  SeededRandom random = SeededRandom::forStream(seed, /*split stream*/ 1);
  std::vector<size_t> order = seededPermutation(n, random);
  std::vector<size_t> testIndices(order.begin(), order.begin() + testCount);
  std::sort(testIndices.begin(), testIndices.end());
  std::vector<VqaExample> train, validation;
  size_t nextTest = 0;
  for (size_t i = 0; i < n; ++i) {
    if (nextTest < testIndices.size() && testIndices[nextTest] == i) {
      validation.push_back(dataset[i]);
      ++nextTest;
    } else {
      train.push_back(dataset[i]);
    }
  }
  return {VqaDataset(dataset.name() + "[train]", std::move(train)),
          VqaDataset(dataset.name() + "[validation]", std::move(validation))};
}

VqaSplits openImageFolderSplits(const std::string &root,
                                const VqaColumns &columns, double testSize,
                                uint64_t seed) {
  auto hasMetadata = [&](const char *sub) {
    std::error_code error;
    return fs::is_regular_file(fs::path(root) / sub / "metadata.jsonl", error);
  };
  if (hasMetadata("train")) {
    VqaDataset train = VqaDataset::openImageFolder(
        (fs::path(root) / "train").string(), columns);
    for (const char *name : {"validation", "val", "test"})
      if (hasMetadata(name))
        return {std::move(train),
                VqaDataset::openImageFolder((fs::path(root) / name).string(),
                                            columns)};
    return splitDataset(train, testSize, seed);
  }
  std::error_code error;
  if (!fs::is_regular_file(fs::path(root) / "metadata.jsonl", error))
    fail("{}: not an imagefolder dataset (no metadata.jsonl, no "
         "train/metadata.jsonl)",
         root);
  return splitDataset(VqaDataset::openImageFolder(root, columns), testSize,
                      seed);
}

} // namespace pgc
