// Writing metrics.jsonl, and trimming it when a run resumes.
#include "runtime/train/Metrics.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace pgc::train {

MetricsLog::MetricsLog(std::string path, int64_t keepUpToStep,
                       const std::string &tensorBoardDir)
    : path_(std::move(path)) {
  std::string kept;
  if (keepUpToStep >= 0 && std::filesystem::exists(path_)) {
    std::vector<char> bytes = readFile(path_);
    std::istringstream lines(std::string(bytes.begin(), bytes.end()));
    std::string line;
    while (std::getline(lines, line)) {
      nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      // A line cut by a crash is not valid JSON and is dropped too.
      if (record.is_object() && record.value("step", int64_t(-1)) >= 0 &&
          record.value("step", int64_t(-1)) <= keepUpToStep)
        kept += line + "\n";
    }
  }
  writeFileAtomically(path_, kept);
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_)
    fail("{}: cannot open for appending: {}", path_, std::strerror(errno));
  if (!tensorBoardDir.empty())
    tensorBoard_ = std::make_unique<TensorBoardLog>(tensorBoardDir);
}

MetricsLog::~MetricsLog() {
  if (file_)
    std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json &record) {
  std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fflush(file_) != 0)
    fail("{}: cannot write: {}", path_, std::strerror(errno));
  if (tensorBoard_)
    tensorBoard_->writeScalars(record.value("step", int64_t(0)),
                               tensorBoardScalars(record));
}

} // namespace pgc::train
