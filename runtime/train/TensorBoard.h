// TensorBoard event files: the scalars of metrics.jsonl, tagged as the Hugging
// Face Trainer's TensorBoardCallback tags them, for `tensorboard --logdir`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pgc::train {

using Scalars = std::vector<std::pair<std::string, double>>;

/// One event file, events.out.tfevents.<unix time>.<host>.<pid>.<n> in `dir`
/// (created if needed), in TFRecord framing: length, masked CRC-32C of the
/// length, a serialized Event, masked CRC-32C of it. The first record says
/// the file version ("brain.Event:2"); each write is flushed, so a crash
/// loses at most the record being written. A resumed run starts a new file
/// next to the old ones, as a restarted Hugging Face run does.
class TensorBoardLog {
public:
  explicit TensorBoardLog(const std::string &dir);
  ~TensorBoardLog();
  TensorBoardLog(const TensorBoardLog &) = delete;
  TensorBoardLog &operator=(const TensorBoardLog &) = delete;

  /// One event at `step` with a simple_value per (tag, value).
  void writeScalars(int64_t step, const Scalars &scalars);
  const std::string &path() const { return path_; }

private:
  void writeEvent(const std::string &serialized);

  std::string path_;
  std::FILE *file_ = nullptr;
};

/// The TensorBoard scalars of a metrics.jsonl record, as transformers'
/// rewrite_logs names them: `eval_<x>` becomes `eval/<x>`, every other
/// number `train/<key>` (`lr` as `train/learning_rate`); `step` is the
/// event's step, not a scalar; non-numbers are left out.
Scalars tensorBoardScalars(const nlohmann::json &record);

} // namespace pgc::train
