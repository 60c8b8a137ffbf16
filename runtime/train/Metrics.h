// OUTPUT_DIR/metrics.jsonl: one JSON object per logged step and per
// evaluation, flushed line by line so that a crash loses at most one record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace pgc::train {

class MetricsLog {
public:
  /// Opens `path` for appending. With `keepUpToStep` >= 0 (a resumed run)
  /// the records of later steps, which the resumed run will write again,
  /// are dropped first (atomically); with -1 the file starts empty.
  MetricsLog(std::string path, int64_t keepUpToStep);
  ~MetricsLog();
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;

  void write(const nlohmann::json &record);
  const std::string &path() const { return path_; }

private:
  std::string path_;
  std::FILE *file_ = nullptr;
};

} // namespace pgc::train
