// metrics.jsonl: records are appended line by line and a resumed run drops the
// records after its checkpoint, including a line cut by a crash.
#include "runtime/train/Metrics.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace pgc::train {
namespace {

std::string readText(const std::string &path) {
  std::vector<char> bytes = readFile(path);
  return std::string(bytes.begin(), bytes.end());
}

std::string tempPath(const char *name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("pgc-metrics-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(MetricsLog, WritesOneObjectPerLine) {
  std::string path = tempPath("a.jsonl");
  {
    MetricsLog log(path, -1);
    log.write({{"step", 1}, {"loss", 0.5}});
    log.write({{"step", 2}, {"eval_accuracy", 0.25}});
    // Flushed as written: a reader sees both lines before the log closes.
    EXPECT_EQ(readText(path), "{\"loss\":0.5,\"step\":1}\n"
                              "{\"eval_accuracy\":0.25,\"step\":2}\n");
  }
  MetricsLog fresh(path, -1);
  EXPECT_EQ(readText(path), "");
}

TEST(MetricsLog, ResumeKeepsRecordsUpToTheCheckpointStep) {
  std::string path = tempPath("b.jsonl");
  writeFileAtomically(path, "{\"step\":1,\"loss\":3}\n"
                            "{\"step\":2,\"loss\":2}\n"
                            "{\"step\":2,\"eval_loss\":2.5}\n"
                            "{\"step\":3,\"loss\":1}\n"
                            "{\"step\":4,\"lo");
  {
    MetricsLog log(path, 2);
    log.write({{"step", 3}, {"loss", 1.5}});
  }
  EXPECT_EQ(readText(path), "{\"step\":1,\"loss\":3}\n"
                            "{\"step\":2,\"loss\":2}\n"
                            "{\"step\":2,\"eval_loss\":2.5}\n"
                            "{\"loss\":1.5,\"step\":3}\n");
}

TEST(MetricsLog, UnwritableFolderIsAnErrorNamingThePath) {
  try {
    MetricsLog log("/proc/pgc-no-such-dir/metrics.jsonl", -1);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("/proc/pgc-no-such-dir"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace pgc::train
