// What `pgc plot` draws from a run's metrics.jsonl, and the gnuplot script
// that draws it: kept apart from the command so both can be tested without
// running gnuplot.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pgc::train {

/// (step, value) points, in step order.
using MetricSeries = std::vector<std::pair<int64_t, double>>;

/// The curves of one run. A step logged again (a run resumed from an
/// earlier checkpoint repeats the steps after it) keeps its last value.
struct MetricsHistory {
  MetricSeries loss;            ///< training loss ("loss")
  MetricSeries learningRate;    ///< "lr"
  MetricSeries evalLoss;        ///< "eval_loss"
  MetricSeries evalAccuracy;    ///< exact match, "eval_accuracy"
  MetricSeries evalVqaAccuracy; ///< "eval_vqa_accuracy", where logged
};

/// Parses metrics.jsonl as `pgc run` writes it (one JSON object per line,
/// `step` and some of the keys above). Throws pgc::Error "<path>:<line>: ..."
/// for a line that is not a JSON object, a row without an integer step, or
/// a metric that is not a number; and "<path>: no training loss" when no row
/// has one.
MetricsHistory readMetricsHistory(const std::string &path);

/// A gnuplot script (gnuplot 5, pngcairo) that writes `pngPath`: a 2 x 2
/// grid of training loss, learning rate, evaluation loss and evaluation
/// accuracy (exact match and VQA) against the optimizer step, the data
/// inline as datablocks, `title` above. A panel with no data says so.
std::string gnuplotScript(const MetricsHistory &history,
                          const std::string &pngPath, const std::string &title);

/// `text` as a single-quoted gnuplot string.
std::string gnuplotQuoted(const std::string &text);

} // namespace pgc::train
