// TensorBoard event files read back by a decoder written here from the
// TFRecord and protobuf wire formats (not the generated code that wrote
// them), with TensorBoard's field numbers: Event.wall_time 1, step 2,
// file_version 3, summary 5; Summary.value 1; Value.tag 1, simple_value 2.
#include "runtime/train/TensorBoard.h"
#include "runtime/train/Metrics.h"

#include "runtime/support/Crc32c.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <unistd.h>

namespace pgc::train {
namespace {

struct DecodedEvent {
  double wallTime = 0;
  int64_t step = 0;
  std::string fileVersion;
  std::map<std::string, float> values;
};

struct Reader {
  const std::string &bytes;
  size_t at = 0;

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      EXPECT_LT(at, bytes.size());
      auto byte = static_cast<unsigned char>(bytes.at(at++));
      value |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80))
        return value;
    }
  }
  std::string take(size_t n) {
    std::string out = bytes.substr(at, n);
    at += n;
    return out;
  }
  uint64_t fixed(int n) {
    uint64_t value = 0;
    for (int i = 0; i < n; ++i)
      value |= uint64_t(static_cast<unsigned char>(bytes.at(at++))) << (8 * i);
    return value;
  }
};

std::map<std::string, float> decodeSummary(const std::string &bytes) {
  std::map<std::string, float> values;
  Reader r{bytes};
  while (r.at < bytes.size()) {
    EXPECT_EQ(r.varint(), (1u << 3) | 2); // Summary.value, length-delimited
    std::string value = r.take(r.varint());
    Reader v{value};
    std::string tag;
    float simple = 0;
    while (v.at < value.size()) {
      uint64_t key = v.varint();
      if (key == ((1u << 3) | 2)) {
        tag = v.take(v.varint());
      } else {
        EXPECT_EQ(key, (2u << 3) | 5); // simple_value, 32-bit
        uint32_t bits = static_cast<uint32_t>(v.fixed(4));
        std::memcpy(&simple, &bits, 4);
      }
    }
    values[tag] = simple;
  }
  return values;
}

DecodedEvent decodeEvent(const std::string &bytes) {
  DecodedEvent event;
  Reader r{bytes};
  while (r.at < bytes.size()) {
    uint64_t key = r.varint();
    if (key == ((1u << 3) | 1)) {
      uint64_t bits = r.fixed(8);
      std::memcpy(&event.wallTime, &bits, 8);
    } else if (key == ((2u << 3) | 0)) {
      event.step = static_cast<int64_t>(r.varint());
    } else if (key == ((3u << 3) | 2)) {
      event.fileVersion = r.take(r.varint());
    } else {
      EXPECT_EQ(key, (5u << 3) | 2);
      event.values = decodeSummary(r.take(r.varint()));
    }
  }
  return event;
}

std::vector<DecodedEvent> readEvents(const std::string &path) {
  std::vector<char> raw = readFile(path);
  std::string bytes(raw.begin(), raw.end());
  std::vector<DecodedEvent> events;
  Reader r{bytes};
  while (r.at < bytes.size()) {
    std::string header = r.take(8);
    Reader h{header};
    uint64_t length = h.fixed(8);
    EXPECT_EQ(r.fixed(4), maskedCrc32c(header.data(), 8));
    std::string data = r.take(length);
    EXPECT_EQ(r.fixed(4), maskedCrc32c(data.data(), data.size()));
    events.push_back(decodeEvent(data));
  }
  return events;
}

std::string tempDir(const char *name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("pgc-tensorboard-" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(TensorBoardLog, WritesAFileVersionThenOneEventPerRecord) {
  std::string dir = tempDir("events");
  std::string path;
  {
    TensorBoardLog log(dir);
    path = log.path();
    log.writeScalars(3, {{"train/loss", 1.5}, {"train/learning_rate", 2e-5}});
    log.writeScalars(4, {{"eval/accuracy", 0.875}});
  }
  EXPECT_EQ(std::filesystem::path(path).parent_path(), dir);
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind(
                "events.out.tfevents.", 0),
            0u);
  std::vector<DecodedEvent> events = readEvents(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].fileVersion, "brain.Event:2");
  EXPECT_GT(events[0].wallTime, 1.6e9); // seconds since 1970, after 2020
  EXPECT_EQ(events[1].step, 3);
  EXPECT_EQ(events[1].values.at("train/loss"), 1.5f);
  EXPECT_EQ(events[1].values.at("train/learning_rate"), 2e-5f);
  EXPECT_EQ(events[2].step, 4);
  EXPECT_EQ(events[2].values.at("eval/accuracy"), 0.875f);
  EXPECT_GE(events[2].wallTime, events[1].wallTime);
}

TEST(TensorBoardLog, TwoLogsInOneFolderGetTwoFiles) {
  std::string dir = tempDir("twice");
  TensorBoardLog first(dir), second(dir);
  EXPECT_NE(first.path(), second.path());
  first.writeScalars(1, {{"train/loss", 1.0}});
  second.writeScalars(1, {{"train/loss", 2.0}});
  EXPECT_EQ(readEvents(first.path()).size(), 2u);
  EXPECT_EQ(readEvents(second.path()).at(1).values.at("train/loss"), 2.0f);
}

TEST(TensorBoardLog, MetricsRecordsBecomeTransformersTags) {
  Scalars scalars = tensorBoardScalars({{"step", 7},
                                        {"epoch", 0.5},
                                        {"loss", 2.25},
                                        {"lr", 1e-3},
                                        {"grad_norm", 0.75},
                                        {"eval_loss", 1.0},
                                        {"eval_accuracy", 0.5},
                                        {"note", "text is skipped"}});
  std::map<std::string, double> byTag(scalars.begin(), scalars.end());
  std::map<std::string, double> expected = {{"train/epoch", 0.5},
                                            {"train/loss", 2.25},
                                            {"train/learning_rate", 1e-3},
                                            {"train/grad_norm", 0.75},
                                            {"eval/loss", 1.0},
                                            {"eval/accuracy", 0.5}};
  EXPECT_EQ(byTag, expected);
}

TEST(TensorBoardLog, MetricsLogMirrorsEachRecord) {
  std::string dir = tempDir("mirror");
  std::filesystem::create_directories(dir);
  std::string eventPath;
  {
    MetricsLog log(dir + "/metrics.jsonl", -1, dir + "/runs");
    ASSERT_NE(log.tensorBoard(), nullptr);
    eventPath = log.tensorBoard()->path();
    log.write({{"step", 1}, {"loss", 3.0}, {"lr", 0.5}});
    log.write({{"step", 2}, {"eval_loss", 2.0}});
  }
  std::vector<DecodedEvent> events = readEvents(eventPath);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].step, 1);
  EXPECT_EQ(events[1].values.at("train/loss"), 3.0f);
  EXPECT_EQ(events[1].values.at("train/learning_rate"), 0.5f);
  EXPECT_EQ(events[2].step, 2);
  EXPECT_EQ(events[2].values.at("eval/loss"), 2.0f);
  MetricsLog plain(dir + "/plain.jsonl", -1);
  EXPECT_EQ(plain.tensorBoard(), nullptr);
}

TEST(TensorBoardLog, UncreatableFolderIsAnErrorNamingIt) {
  try {
    TensorBoardLog log("/proc/pgc-no-such-dir/runs");
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("/proc/pgc-no-such-dir/runs"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace pgc::train
