// `pgc generate STEP.pgc --weights DIR --image IMG --prompt TEXT`: greedy
// answer from a compiled PaliGemma step, printed to stdout.
#include "tools/pgc/Commands.h"

#include "runtime/data/Image.h"
#include "runtime/support/Error.h"
#include "runtime/train/Adapters.h"
#include "runtime/train/CheckpointStore.h"
#include "runtime/train/Generation.h"

#include <filesystem>
#include <fmt/format.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct GenerateOptions {
  std::string artifact;
  std::string weights;
  std::string adapter;
  std::string init;
  uint64_t seed = 0;
  std::string image;
  std::string prompt;
  std::string tokenizer;
  int64_t maxNewTokens = 16;
};
GenerateOptions options;

// The tokenizer: --tokenizer, else the one a pgc run checkpoint carries (or
// a folder of HF weights, or its parent).
std::string findTokenizer() {
  if (!options.tokenizer.empty())
    return options.tokenizer;
  if (!options.weights.empty()) {
    fs::path weights(options.weights);
    std::string found = train::findTokenizerFor(
        fs::is_directory(weights) ? weights.string()
                                  : weights.parent_path().string());
    if (!found.empty())
      return found;
  }
  fail("no tokenizer.model next to --weights: give --tokenizer FILE");
}

int generate() {
  train::RunState init;
  if (!options.weights.empty()) {
    if (!fs::exists(options.weights))
      fail("--weights {}: no such file or folder", options.weights);
    init.initWeights = options.weights;
    if (train::isRunCheckpoint(options.weights))
      init.initStd = train::readRunState(options.weights).initStd;
  } else if (options.init == "random") {
    init.initSeed = options.seed;
  } else {
    fail("give --weights DIR_OR_FILE (or --init random --seed S)");
  }
  if (!fs::is_regular_file(options.image))
    fail("--image {}: no such file", options.image);

  Plan plan = readArtifact(options.artifact);
  train::setNormalInitStd(plan, init.initStd);
  Session session(std::move(plan));
  train::ModelIO io =
      train::setUpModelIO(session.plan(), options.artifact, findTokenizer());
  // The prompt is given whole ("answer ..."), so the template is the
  // identity.
  PaliGemmaProcessorConfig config = io.processor.config();
  config.promptTemplate = "{question}";
  io.processor = PaliGemmaProcessor(io.processor.tokenizer(), config);
  train::initializeModel(session, init, [](const std::string &message) {
    fmt::print(stderr, "pgc: warning: {}\n", message);
  });
  if (!options.adapter.empty())
    train::loadAdapter(options.adapter, session, options.artifact);

  RgbImage image = decodeImageFile(options.image);
  std::vector<std::string> answers = train::generateAnswers(
      session, io, {{io.processor.pixelValues(image), options.prompt}},
      options.maxNewTokens);
  fmt::print("{}\n", answers.at(0));
  return 0;
}

CommandAction registerGenerate(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "generate", "Answer a prompt about an image with a compiled PaliGemma "
                  "step (greedy)");
  sub->add_option("file", options.artifact, "The .pgc artifact")->required();
  sub->add_option("--weights", options.weights,
                  "A pgc run checkpoint folder, or HF safetensors weights");
  sub->add_option("--adapter", options.adapter,
                  "A peft LoRA adapter folder whose weights replace the LoRA "
                  "parameters (the base comes from --weights or --init)");
  sub->add_option("--init", options.init, "'random': untrained weights");
  sub->add_option("--seed", options.seed, "With --init random")
      ->capture_default_str();
  sub->add_option("--image", options.image, "PNG or JPEG image")->required();
  sub->add_option("--prompt", options.prompt,
                  "The whole prompt, e.g. \"answer what color is the "
                  "circle?\"")
      ->required();
  sub->add_option("--tokenizer", options.tokenizer,
                  "tokenizer.model (default: the one next to --weights)");
  sub->add_option("--max-new-tokens", options.maxNewTokens)
      ->capture_default_str();
  return [] { return generate(); };
}

CommandRegistration registration(41, registerGenerate);

} // namespace
} // namespace pgc::cli
