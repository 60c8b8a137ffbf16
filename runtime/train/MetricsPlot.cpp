// Reading metrics.jsonl strictly and writing a gnuplot script with the data
// inline, so that one gnuplot process and one file make the picture.
#include "runtime/train/MetricsPlot.h"

#include "runtime/support/Error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>

namespace pgc::train {
namespace {

using Points = std::map<int64_t, double>;

MetricSeries seriesOf(const Points &points) {
  return MetricSeries(points.begin(), points.end());
}

// A datablock named `name`; gnuplot ends one at a line holding only EOD.
std::string datablock(const std::string &name, const MetricSeries &series) {
  std::string text = "$" + name + " << EOD\n";
  for (const auto &[step, value] : series)
    text += fmt::format("{} {:.17g}\n", step, value);
  return text + "EOD\n";
}

// Lines alone hide a curve of one or a few points; short curves get marks.
std::string curveStyle(const MetricSeries &series, const char *colour) {
  return fmt::format(series.size() < 30
                         ? "with linespoints pt 7 ps 0.6 lw 1.5 lc rgb '{}'"
                         : "with lines lw 1.5 lc rgb '{}'",
                     colour);
}

std::string emptyPanel(const std::string &title, const std::string &note) {
  return fmt::format("set title {}\nset xrange [0:1]\nset yrange [0:1]\n"
                     "unset xtics\nunset ytics\nset xlabel ''\nset ylabel ''\n"
                     "set label 1 {} at graph 0.5, graph 0.5 center\n"
                     "plot -1 notitle\nunset label 1\nset xtics\nset ytics\n"
                     "set xlabel 'optimizer step'\nset yrange [0:*]\n",
                     gnuplotQuoted(title), gnuplotQuoted(note));
}

} // namespace

std::string gnuplotQuoted(const std::string &text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'')
      quoted += "''"; // gnuplot's escape inside single quotes
    else if (c == '\n' || c == '\r')
      quoted += ' ';
    else
      quoted += c;
  }
  return quoted + "'";
}

MetricsHistory readMetricsHistory(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail("{}: cannot open", path);
  Points loss, lr, evalLoss, evalAccuracy, evalVqa;
  const std::vector<std::pair<const char *, Points *>> keys = {
      {"loss", &loss},
      {"lr", &lr},
      {"eval_loss", &evalLoss},
      {"eval_accuracy", &evalAccuracy},
      {"eval_vqa_accuracy", &evalVqa}};
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = fmt::format("{}:{}", path, number);
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object())
      fail("{}: not a JSON object", where);
    auto step = row.find("step");
    if (step == row.end() || !step->is_number_integer())
      fail("{}: no integer 'step'", where);
    for (const auto &[key, points] : keys) {
      auto value = row.find(key);
      if (value == row.end())
        continue;
      if (!value->is_number())
        fail("{}: '{}' is not a number", where, key);
      (*points)[step->get<int64_t>()] = value->get<double>();
    }
  }
  if (in.bad())
    fail("{}: read failed", path);
  if (loss.empty())
    fail("{}: no training loss (no row has 'loss'; pgc run logs one every "
         "--logging-steps)",
         path);
  return {seriesOf(loss), seriesOf(lr), seriesOf(evalLoss),
          seriesOf(evalAccuracy), seriesOf(evalVqa)};
}

std::string gnuplotScript(const MetricsHistory &history,
                          const std::string &pngPath,
                          const std::string &title) {
  int64_t first = history.loss.front().first, last = first;
  for (const MetricSeries *series :
       {&history.loss, &history.learningRate, &history.evalLoss,
        &history.evalAccuracy, &history.evalVqaAccuracy})
    for (const auto &point : *series) {
      first = std::min(first, point.first);
      last = std::max(last, point.first);
    }
  if (last == first)
    ++last; // one logged step: give the axis a width
  std::string stepRange = fmt::format("set xrange [{}:{}]\n", first, last);

  std::string script =
      "# Written by pgc plot: the curves of one run's metrics.jsonl.\n";
  script += datablock("loss", history.loss);
  script += datablock("lr", history.learningRate);
  script += datablock("eval_loss", history.evalLoss);
  script += datablock("eval_accuracy", history.evalAccuracy);
  script += datablock("eval_vqa_accuracy", history.evalVqaAccuracy);
  script += "set terminal pngcairo size 1200,800 font 'sans,10'\n";
  script += "set output " + gnuplotQuoted(pngPath) + "\n";
  script += "set multiplot layout 2,2 title " + gnuplotQuoted(title) +
            " font 'sans,12'\n";
  // Losses and learning rates are never negative: their axes start at 0,
  // with room above the highest point so no curve runs along the border.
  script += "set grid\nset key top right\nset xlabel 'optimizer step'\n"
            "set offsets 0, 0, graph 0.05, 0\nset yrange [0:*]\n";

  script += stepRange +
            "set title 'training loss'\nset ylabel 'loss'\n"
            "plot $loss using 1:2 " +
            curveStyle(history.loss, "#1f77b4") + " title 'loss'\n";

  if (history.learningRate.empty()) {
    script += emptyPanel("learning rate", "no learning rate logged");
  } else {
    script += stepRange +
              "set title 'learning rate'\nset ylabel 'lr'\n"
              "set format y '%g'\n"
              "plot $lr using 1:2 " +
              curveStyle(history.learningRate, "#ff7f0e") +
              " title 'lr'\nset format y '% h'\n";
  }

  if (history.evalLoss.empty()) {
    script += emptyPanel("evaluation loss", "no evaluation logged");
  } else {
    script += stepRange + "set title 'evaluation loss'\nset ylabel 'loss'\n"
                          "plot $eval_loss using 1:2 with linespoints pt 7 "
                          "ps 0.8 lc rgb '#2ca02c' title 'eval loss'\n";
  }

  if (history.evalAccuracy.empty() && history.evalVqaAccuracy.empty()) {
    script += emptyPanel("evaluation accuracy", "no evaluation logged");
  } else {
    script += stepRange + "set title 'evaluation accuracy'\n"
                          "set ylabel 'accuracy'\nset yrange [-0.02:1.02]\n";
    std::vector<std::string> curves;
    if (!history.evalAccuracy.empty())
      curves.push_back("$eval_accuracy using 1:2 with linespoints pt 7 ps "
                       "0.8 lc rgb '#d62728' title 'exact match'");
    if (!history.evalVqaAccuracy.empty())
      curves.push_back("$eval_vqa_accuracy using 1:2 with linespoints pt 5 "
                       "ps 0.8 lc rgb '#9467bd' title 'VQA accuracy'");
    script += "plot " + curves[0];
    for (size_t i = 1; i < curves.size(); ++i)
      script += ", " + curves[i];
    script += "\nset yrange [0:*]\n";
  }
  script += "unset multiplot\nset output\n";
  return script;
}

} // namespace pgc::train
