// `pgc eval STEP.pgc --weights CKPT --data DIR`: the evaluation `pgc run`
// does (loss over full batches, greedy answers, exact-match and VQA
// accuracy) on any set, for a checkpoint or base weights (+ an adapter).
#include "tools/pgc/Commands.h"
#include "tools/pgc/ModelSource.h"

#include "runtime/data/ImageFolder.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/EvaluationRun.h"
#include "runtime/train/SequenceLengths.h"

#include <filesystem>
#include <fmt/format.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct EvalOptions {
  std::string artifact;
  ModelSource model;
  std::string data;
  int64_t maxEvalSamples = 0;
  int64_t maxNewTokens = 8;
  std::string predictions;
  std::string metrics;
};
EvalOptions options;

// DIR holding metadata.jsonl or metadata.csv, or the validation split of a DIR
// laid out as synth-vqa writes it (validation/, val/ or test/).
std::string evaluationFolder() {
  fs::path root(options.data);
  if (!fs::is_directory(root))
    fail("--data {}: no such folder", options.data);
  if (hasImageFolderMetadata(root.string()))
    return root.string();
  for (const char *split : {"validation", "val", "test"})
    if (hasImageFolderMetadata((root / split).string()))
      return (root / split).string();
  fail("--data {}: no metadata.jsonl or metadata.csv in it or in "
       "validation/, val/ or test/",
       options.data);
}

int evaluate() {
  if (options.maxNewTokens < 1)
    fail("--max-new-tokens must be >= 1, got {}", options.maxNewTokens);
  if (options.maxEvalSamples < 0)
    fail("--max-eval-samples must be >= 0, got {}", options.maxEvalSamples);
  std::string folder = evaluationFolder();
  LoadedModel model =
      loadModel(options.artifact, options.model, {folder, options.data});
  VqaDataset dataset = VqaDataset::openImageFolder(folder, model.io.columns);
  // Long prompts are cut as pgc run cuts them, with one warning up front.
  std::string warning = train::truncationWarning(
      {train::measureSequenceLengths(
          model.io.processor, dataset, options.maxNewTokens,
          static_cast<size_t>(options.maxEvalSamples))},
      model.io.shapes.seqLen);
  if (!warning.empty())
    fmt::print(stderr, "pgc: warning: {}\n", warning);
  train::EvalResult eval =
      train::evaluateVqa(*model.session, model.io, dataset,
                         options.maxEvalSamples, options.maxNewTokens);
  // Both files only after the whole evaluation, each written atomically.
  if (!options.predictions.empty())
    writeFileAtomically(options.predictions,
                        train::predictionsJsonl(eval, dataset));
  if (!options.metrics.empty())
    writeFileAtomically(options.metrics,
                        train::evalRecord(eval).dump(2) + "\n");
  fmt::print("eval {}: {}\n", folder, train::evalSummary(eval));
  for (const std::string &sample : eval.samples)
    fmt::print("  {}\n", sample);
  return 0;
}

CommandAction registerEval(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "eval", "Evaluate a checkpoint on a VQA imagefolder set as pgc run "
              "does: loss, exact-match and VQA accuracy of greedy answers");
  sub->add_option("file", options.artifact, "The .pgc artifact")->required();
  addModelSourceOptions(sub, options.model);
  sub->add_option(
         "--data", options.data,
         "Folder with metadata.jsonl (or .csv), or with validation/ (val/, "
         "test/) as pgc data synth-vqa writes")
      ->required();
  sub->add_option("--max-eval-samples", options.maxEvalSamples,
                  "Evaluate the first N examples only (0: all)")
      ->capture_default_str();
  sub->add_option("--max-new-tokens", options.maxNewTokens,
                  "Longest generated answer")
      ->capture_default_str();
  sub->add_option("--predictions", options.predictions,
                  "Write one JSON line per example (question, prediction, "
                  "answer)");
  sub->add_option("--metrics", options.metrics,
                  "Write eval_loss, eval_accuracy, ... as a JSON object");
  return [] { return evaluate(); };
}

CommandRegistration registration(42, registerEval);

} // namespace
} // namespace pgc::cli
