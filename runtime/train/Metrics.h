// OUTPUT_DIR/metrics.jsonl: one JSON object per logged step and per
// evaluation, flushed line by line so that a crash loses at most one record;
// optionally the same numbers as TensorBoard scalars.
#pragma once

#include "runtime/train/TensorBoard.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace pgc::train {

class MetricsLog {
public:
  /// Opens `path` for appending. With `keepUpToStep` >= 0 (a resumed run)
  /// the records of later steps, which the resumed run will write again,
  /// are dropped first (atomically); with -1 the file starts empty.
  /// With a non-empty `tensorBoardDir` every record is also written there
  /// as TensorBoard scalars (tensorBoardScalars).
  MetricsLog(std::string path, int64_t keepUpToStep,
             const std::string &tensorBoardDir = "");
  ~MetricsLog();
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;

  void write(const nlohmann::json &record);
  const std::string &path() const { return path_; }
  /// The event file, or null without TensorBoard.
  const TensorBoardLog *tensorBoard() const { return tensorBoard_.get(); }

private:
  std::string path_;
  std::FILE *file_ = nullptr;
  std::unique_ptr<TensorBoardLog> tensorBoard_;
};

} // namespace pgc::train
