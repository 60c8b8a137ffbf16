// `pgc data ...`: data set tools; `pgc data synth-vqa` writes the synthetic
// coloured-shapes VQA set and its tokenizer.
#include "tools/pgc/Commands.h"

#include "runtime/data/SynthVqa.h"
#include "runtime/support/Error.h"

#include <fmt/format.h>

namespace pgc::cli {
namespace {

CommandAction registerData(CLI::App &app) {
  CLI::App *data = app.add_subcommand("data", "Data set tools");
  data->require_subcommand(1);
  auto options = std::make_shared<SynthVqaOptions>();
  CLI::App *synth = data->add_subcommand(
      "synth-vqa",
      "Generate a synthetic VQA set (coloured shapes; PNG + metadata.jsonl "
      "per split) and a matching SentencePiece tokenizer");
  synth->add_option("--out", options->outDir, "Output folder (must not exist)")
      ->required();
  synth->add_option("--train", options->trainCount, "Training examples");
  synth->add_option("--val", options->validationCount, "Validation examples");
  synth->add_option("--image-size", options->imageSize, "Image side in pixels");
  synth->add_option("--seed", options->seed, "Random seed");
  synth->add_option("--vocab-size", options->vocabSize,
                    "Upper bound on the SentencePiece vocabulary");
  auto task = std::make_shared<std::string>("scenes");
  synth->add_option("--task", *task,
                    "scenes (1-5 small shapes; colour, shape, count and yes/no "
                    "questions), single (one large shape; colour and shape "
                    "questions) or caption (1-2 shapes, \"caption en\" -> \"a "
                    "red circle above a blue square\")")
      ->capture_default_str();
  return [synth, options, task]() -> int {
    if (!synth->parsed())
      return 1;
    options->task = parseSynthTask(*task);
    generateSynthVqa(*options);
    fmt::print("{}: {} {} train + {} validation examples at {} px, "
               "tokenizer.model, pgc_data.json\n",
               options->outDir, synthTaskName(options->task),
               options->trainCount, options->validationCount,
               options->imageSize);
    return 0;
  };
}

CommandRegistration registration(50, registerData);

} // namespace
} // namespace pgc::cli
