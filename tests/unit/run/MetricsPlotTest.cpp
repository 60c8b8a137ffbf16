// pgc plot's reading of metrics.jsonl and its gnuplot script: the values
// reach the datablocks exactly, bad rows are named, quoting holds.
#include "runtime/train/MetricsPlot.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace pgc::train {
namespace {

std::string writeMetrics(const char *name, const std::string &text) {
  auto dir = std::filesystem::temp_directory_path() /
             ("pgc-metrics-plot-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  writeFileAtomically(path, text);
  return path;
}

void expectError(const std::string &path, const std::string &part) {
  try {
    readMetricsHistory(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
        << e.what();
  }
}

TEST(MetricsPlot, ReadsEachCurveInStepOrderKeepingTheLastOfARepeatedStep) {
  std::string path = writeMetrics(
      "run.jsonl",
      "{\"eval_accuracy\":0.25,\"eval_loss\":3.5,\"step\":0}\n"
      "{\"loss\":4.5,\"lr\":0.001,\"grad_norm\":2,\"step\":1}\n"
      "\n"
      "{\"loss\":4.0,\"lr\":0.002,\"step\":2}\n"
      "{\"loss\":3.75,\"lr\":0.002,\"step\":2}\n"
      "{\"eval_accuracy\":0.5,\"eval_vqa_accuracy\":0.4,\"eval_loss\":2.5,"
      "\"step\":2}\n");
  MetricsHistory history = readMetricsHistory(path);
  EXPECT_EQ(history.loss, (MetricSeries{{1, 4.5}, {2, 3.75}}));
  EXPECT_EQ(history.learningRate, (MetricSeries{{1, 0.001}, {2, 0.002}}));
  EXPECT_EQ(history.evalLoss, (MetricSeries{{0, 3.5}, {2, 2.5}}));
  EXPECT_EQ(history.evalAccuracy, (MetricSeries{{0, 0.25}, {2, 0.5}}));
  EXPECT_EQ(history.evalVqaAccuracy, (MetricSeries{{2, 0.4}}));
}

TEST(MetricsPlot, BadRowsAreNamedByLine) {
  expectError(writeMetrics("a.jsonl", "{\"loss\":1,\"step\":1}\nnot json\n"),
              "a.jsonl:2: not a JSON object");
  expectError(writeMetrics("b.jsonl", "{\"loss\":1}\n"),
              "b.jsonl:1: no integer 'step'");
  expectError(writeMetrics("c.jsonl", "{\"loss\":1,\"step\":1.5}\n"),
              "c.jsonl:1: no integer 'step'");
  expectError(writeMetrics("d.jsonl", "{\"loss\":\"x\",\"step\":1}\n"),
              "d.jsonl:1: 'loss' is not a number");
  expectError(writeMetrics("e.jsonl", "{\"eval_loss\":1,\"step\":0}\n"),
              "e.jsonl: no training loss");
  expectError(writeMetrics("f.jsonl", ""), "no training loss");
  expectError("/nonexistent/metrics.jsonl", "cannot open");
}

TEST(MetricsPlot, ScriptCarriesTheValuesExactlyAndQuotesPaths) {
  MetricsHistory history;
  history.loss = {{1, 0.1}, {2, 1.0 / 3.0}};
  history.learningRate = {{1, 2e-5}, {2, 1e-5}};
  std::string script = gnuplotScript(history, "/tmp/it's.png", "run 'a'");
  // %.17g round-trips every double.
  EXPECT_NE(script.find("$loss << EOD\n1 0.10000000000000001\n"
                        "2 0.33333333333333331\nEOD\n"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("$lr << EOD\n1 2.0000000000000002e-05\n"
                        "2 1.0000000000000001e-05\nEOD\n"),
            std::string::npos);
  EXPECT_NE(script.find("set output '/tmp/it''s.png'\n"), std::string::npos);
  EXPECT_NE(script.find("title 'run ''a'''"), std::string::npos);
  EXPECT_NE(script.find("set terminal pngcairo"), std::string::npos);
  // No evaluation: those panels say so instead of plotting empty data.
  EXPECT_NE(script.find("'no evaluation logged'"), std::string::npos);
  EXPECT_EQ(script.find("plot $eval_loss"), std::string::npos);
  EXPECT_EQ(script.find("plot $eval_accuracy"), std::string::npos);
  EXPECT_NE(script.find("set xrange [1:2]"), std::string::npos);

  history.evalAccuracy = {{0, 0.5}};
  history.evalLoss = {{0, 2.0}};
  script = gnuplotScript(history, "x.png", "t");
  EXPECT_NE(script.find("plot $eval_loss using 1:2"), std::string::npos);
  EXPECT_NE(script.find("plot $eval_accuracy using 1:2"), std::string::npos);
  EXPECT_EQ(script.find("$eval_vqa_accuracy using"), std::string::npos);
  EXPECT_NE(script.find("set xrange [0:2]"), std::string::npos);
  EXPECT_EQ(gnuplotQuoted("a\nb"), "'a b'");
}

} // namespace
} // namespace pgc::train
