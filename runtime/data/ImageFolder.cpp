// Reading and validating an imagefolder's metadata.jsonl or metadata.csv up
// front, so that a bad row fails at open and not mid-epoch.
#include "runtime/data/ImageFolder.h"

#include "runtime/data/Random.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <csv.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

namespace pgc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char *kJsonlName = "metadata.jsonl";
constexpr const char *kCsvName = "metadata.csv";

bool isRegularFile(const fs::path &path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

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

// One example from a row of either format (a CSV record arrives as an object
// of strings, its answers cell already parsed), so that both formats obey the
// same column rules and the same path checks.
VqaExample exampleOf(const json &row, const std::string &folder,
                     const VqaColumns &columns, std::string where) {
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
  if (!isRegularFile(example.imagePath))
    fail("{}: image '{}' not found", where, example.imagePath);
  example.question = textOf(requireColumn(row, columns.question, where), where,
                            columns.question);
  example.answer =
      textOf(requireColumn(row, columns.answer, where), where, columns.answer);
  if (!columns.answers.empty()) {
    auto answers = row.find(columns.answers);
    if (answers != row.end())
      example.answers = answersOf(*answers, where, columns.answers);
    else if (columns.answersRequired)
      requireColumn(row, columns.answers, where);
  }
  example.source = std::move(where);
  return example;
}

std::vector<VqaExample> readJsonl(const std::string &folder,
                                  const std::string &metadataPath,
                                  const VqaColumns &columns) {
  std::ifstream in(metadataPath);
  if (!in)
    fail("{}: cannot open", metadataPath);
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
    examples.push_back(exampleOf(row, folder, columns, std::move(where)));
  }
  if (in.bad())
    fail("{}: read failed", metadataPath);
  return examples;
}

// A cell for an error message: one line, at most 40 characters.
std::string shortCell(const std::string &cell) {
  std::string shown;
  for (char c : cell.substr(0, 40))
    shown += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return cell.size() > 40 ? shown + "..." : shown;
}

// What libcsv's callbacks collect: the fields of the record being read, the
// line it started on, and the finished records. The callbacks run inside C
// code, so they record failures instead of throwing through it.
struct CsvCollector {
  std::vector<std::string> fields;
  int64_t recordLine = 0; // 0: between records
  std::vector<std::pair<std::vector<std::string>, int64_t>> records;
  bool outOfMemory = false;
};

void onCsvField(void *data, size_t size, void *user) {
  auto *collector = static_cast<CsvCollector *>(user);
  try {
    collector->fields.emplace_back(data ? static_cast<const char *>(data) : "",
                                   size);
  } catch (...) {
    collector->outOfMemory = true;
  }
}

void onCsvRecord(int, void *user) {
  auto *collector = static_cast<CsvCollector *>(user);
  try {
    collector->records.emplace_back(std::move(collector->fields),
                                    collector->recordLine);
  } catch (...) {
    collector->outOfMemory = true;
  }
  collector->fields.clear();
  collector->recordLine = 0;
}

int noSpaces(unsigned char) { return 0; }

// RFC 4180 through libcsv, strictly: a quote inside an unquoted field, text
// after a closing quote or a quoted field left open are errors (pandas, which
// HF's imagefolder uses, guesses instead). Spaces are kept as pandas keeps
// them. The header row names the columns.
std::vector<VqaExample> readCsv(const std::string &folder,
                                const std::string &metadataPath,
                                const VqaColumns &columns) {
  std::vector<char> bytes = readFile(metadataPath);
  std::string_view text(bytes.data(), bytes.size());
  // Excel and many exporters start UTF-8 CSV files with a byte order mark;
  // without this the first column would be named "\xEF\xBB\xBFfile_name".
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);

  bool haveHeader = false;
  std::vector<std::string> header;
  std::map<std::string, size_t> index;
  std::optional<size_t> answersIndex;
  std::vector<VqaExample> examples;
  auto where = [&](int64_t line) {
    return metadataPath + ":" + std::to_string(line);
  };
  auto readHeader = [&](std::vector<std::string> names, int64_t line) {
    header = std::move(names);
    std::string list;
    for (size_t i = 0; i < header.size(); ++i) {
      if (!index.emplace(header[i], i).second)
        fail("{}: column '{}' appears twice in the header", where(line),
             header[i]);
      list += (i ? ", " : "") + header[i];
    }
    std::vector<std::string> required = {columns.fileName, columns.question,
                                         columns.answer};
    if (!columns.answers.empty() && columns.answersRequired)
      required.push_back(columns.answers);
    for (const std::string &column : required)
      if (!index.count(column))
        fail("{}: no column '{}' (the header has: {})", where(line), column,
             list);
    if (!columns.answers.empty() && index.count(columns.answers))
      answersIndex = index.at(columns.answers);
  };
  auto readRecord = [&](std::vector<std::string> fields, int64_t line) {
    if (fields.size() != header.size())
      fail("{}: {} fields, but the header has {} columns", where(line),
           fields.size(), header.size());
    json row = json::object();
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i != answersIndex) {
        row[header[i]] = std::move(fields[i]);
        continue;
      }
      // A CSV cell is text, so the answer list is written as JSON in it.
      if (fields[i].empty() && !columns.answersRequired)
        continue;
      json answers = json::parse(fields[i], nullptr, false);
      if (answers.is_discarded() || !answers.is_array())
        fail("{}: column '{}' must hold a JSON array of answers (like "
             "[\"red\", \"crimson\"]), not '{}'",
             where(line), header[i], shortCell(fields[i]));
      row[header[i]] = std::move(answers);
    }
    examples.push_back(exampleOf(row, folder, columns, where(line)));
  };

  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
    fail("{}: cannot start the CSV parser", metadataPath);
  struct FreeParser {
    csv_parser *parser;
    ~FreeParser() { csv_free(parser); }
  } freeParser{&parser};
  csv_set_space_func(&parser, noSpaces);
  CsvCollector collector;
  auto handOn = [&] {
    if (collector.outOfMemory)
      fail("{}: out of memory", metadataPath);
    for (auto &[fields, line] : collector.records) {
      if (!haveHeader) {
        haveHeader = true;
        readHeader(std::move(fields), line);
      } else {
        readRecord(std::move(fields), line);
      }
    }
    collector.records.clear();
  };
  // Fed one line at a time (ending at each CR or LF), so that the line a
  // record starts on is known: libcsv reports records, not positions.
  int64_t line = 1;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find_first_of("\r\n", begin);
    end = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view chunk = text.substr(begin, end - begin);
    if (collector.recordLine == 0 &&
        chunk.find_first_not_of("\r\n") != std::string_view::npos)
      collector.recordLine = line;
    size_t parsed = csv_parse(&parser, chunk.data(), chunk.size(), onCsvField,
                              onCsvRecord, &collector);
    handOn();
    if (parsed != chunk.size()) {
      if (csv_error(&parser) == CSV_EPARSE)
        fail("{}: malformed CSV: a quote inside an unquoted field, or text "
             "after a closing quote (quote the whole field and double the "
             "quotes inside it)",
             where(line));
      fail("{}: {}", where(line), csv_strerror(csv_error(&parser)));
    }
    char last = chunk.back();
    if (last == '\n' ||
        (last == '\r' && (end == text.size() || text[end] != '\n')))
      ++line;
    begin = end;
  }
  int64_t openLine = collector.recordLine;
  if (csv_fini(&parser, onCsvField, onCsvRecord, &collector) != 0)
    fail("{}: malformed CSV: a quoted field is not closed by the end of the "
         "file",
         where(openLine));
  handOn();
  return examples;
}

} // namespace

bool hasImageFolderMetadata(const std::string &folder) {
  return isRegularFile(fs::path(folder) / kJsonlName) ||
         isRegularFile(fs::path(folder) / kCsvName);
}

VqaDataset VqaDataset::openImageFolder(const std::string &folder,
                                       const VqaColumns &columns) {
  fs::path jsonl = fs::path(folder) / kJsonlName;
  fs::path csv = fs::path(folder) / kCsvName;
  bool hasJsonl = isRegularFile(jsonl), hasCsv = isRegularFile(csv);
  // Which file wins would be a guess; HF's imagefolder refuses too.
  if (hasJsonl && hasCsv)
    fail("{}: holds both {} and {}; keep one of them", folder, kJsonlName,
         kCsvName);
  if (!hasJsonl && !hasCsv)
    fail("{}: no {} or {} (an imagefolder needs one)", folder, kJsonlName,
         kCsvName);
  std::string metadataPath = (hasCsv ? csv : jsonl).string();
  std::vector<VqaExample> examples =
      hasCsv ? readCsv(folder, metadataPath, columns)
             : readJsonl(folder, metadataPath, columns);
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
    return hasImageFolderMetadata((fs::path(root) / sub).string());
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
  if (!hasImageFolderMetadata(root))
    fail("{}: not an imagefolder dataset (no metadata.jsonl or metadata.csv, "
         "in it or in train/)",
         root);
  return splitDataset(VqaDataset::openImageFolder(root, columns), testSize,
                      seed);
}

} // namespace pgc
