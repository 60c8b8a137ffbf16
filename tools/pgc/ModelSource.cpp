// Building a Session from --weights / --init / --adapter for the commands
// that only evaluate a model.
#include "tools/pgc/ModelSource.h"

#include "runtime/artifact/Plan.h"
#include "runtime/support/Error.h"
#include "runtime/train/Adapters.h"
#include "runtime/train/CheckpointStore.h"

#include <filesystem>
#include <fmt/format.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

std::string findTokenizer(const ModelSource &source,
                          const std::vector<std::string> &tokenizerDirs) {
  if (!source.tokenizer.empty())
    return source.tokenizer;
  std::vector<std::string> candidates;
  if (!source.weights.empty()) {
    fs::path weights(source.weights);
    candidates.push_back(fs::is_directory(weights)
                             ? weights.string()
                             : weights.parent_path().string());
  }
  candidates.insert(candidates.end(), tokenizerDirs.begin(),
                    tokenizerDirs.end());
  for (const std::string &dir : candidates) {
    std::string found = train::findTokenizerFor(dir);
    if (!found.empty())
      return found;
  }
  fail("no tokenizer.model next to --weights{}: give --tokenizer FILE",
       tokenizerDirs.empty() ? "" : " or in --data");
}

} // namespace

void addModelSourceOptions(CLI::App *sub, ModelSource &source) {
  sub->add_option("--weights", source.weights,
                  "A pgc run checkpoint folder, or HF safetensors weights");
  sub->add_option("--adapter", source.adapter,
                  "A peft LoRA adapter folder whose weights replace the LoRA "
                  "parameters (the base comes from --weights or --init)");
  sub->add_option("--init", source.init, "'random': untrained weights");
  sub->add_option("--seed", source.seed, "With --init random")
      ->capture_default_str();
  sub->add_option("--tokenizer", source.tokenizer,
                  "tokenizer.model (default: the one next to --weights)");
}

LoadedModel loadModel(const std::string &artifact, const ModelSource &source,
                      const std::vector<std::string> &tokenizerDirs) {
  train::RunState init;
  if (!source.weights.empty()) {
    if (!source.init.empty())
      fail("give either --weights or --init random, not both");
    if (!fs::exists(source.weights))
      fail("--weights {}: no such file or folder", source.weights);
    init.initWeights = source.weights;
    if (train::isRunCheckpoint(source.weights))
      init.initStd = train::readRunState(source.weights).initStd;
  } else if (source.init == "random") {
    init.initSeed = source.seed;
  } else {
    fail("give --weights DIR_OR_FILE (or --init random --seed S)");
  }
  Plan plan = readArtifact(artifact);
  train::setNormalInitStd(plan, init.initStd);
  auto session = std::make_unique<Session>(std::move(plan));
  train::ModelIO io = train::setUpModelIO(session->plan(), artifact,
                                          findTokenizer(source, tokenizerDirs));
  train::initializeModel(*session, init, [](const std::string &message) {
    fmt::print(stderr, "pgc: warning: {}\n", message);
  });
  if (!source.adapter.empty())
    train::loadAdapter(source.adapter, *session, artifact);
  return LoadedModel{std::move(session), std::move(io)};
}

} // namespace pgc::cli
