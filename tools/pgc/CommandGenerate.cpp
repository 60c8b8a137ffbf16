// `pgc generate STEP.pgc --weights DIR --image IMG --prompt TEXT`: greedy
// answer from a compiled PaliGemma step, printed to stdout.
#include "tools/pgc/Commands.h"
#include "tools/pgc/ModelSource.h"

#include "runtime/data/Image.h"
#include "runtime/support/Error.h"
#include "runtime/train/Generation.h"

#include <filesystem>
#include <fmt/format.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct GenerateOptions {
  std::string artifact;
  ModelSource model;
  std::string image;
  std::string prompt;
  int64_t maxNewTokens = 16;
};
GenerateOptions options;

int generate() {
  if (options.maxNewTokens < 1)
    fail("--max-new-tokens must be >= 1, got {}", options.maxNewTokens);
  if (!fs::is_regular_file(options.image))
    fail("--image {}: no such file", options.image);
  LoadedModel model = loadModel(options.artifact, options.model);
  // The prompt is given whole ("answer ..."), so the template is the
  // identity.
  train::ModelIO &io = model.io;
  PaliGemmaProcessorConfig config = io.processor.config();
  config.promptTemplate = "{question}";
  io.processor = PaliGemmaProcessor(io.processor.tokenizer(), config);

  EncodedText prompt = io.processor.encodePrompt(options.prompt, "--prompt",
                                                 options.maxNewTokens);
  if (prompt.droppedPromptTokens > 0)
    fmt::print(stderr,
               "pgc: warning: --prompt loses its last {} tokens to fit the "
               "artifact's sequence length {} with --max-new-tokens {}; "
               "compile with --seq-len {} to keep it whole\n",
               prompt.droppedPromptTokens, io.shapes.seqLen,
               options.maxNewTokens,
               static_cast<int64_t>(prompt.inputIds.size()) +
                   prompt.droppedPromptTokens + options.maxNewTokens);
  RgbImage image = decodeImageFile(options.image);
  std::vector<std::string> answers = train::generateAnswers(
      *model.session, io, {{io.processor.pixelValues(image), options.prompt}},
      options.maxNewTokens);
  fmt::print("{}\n", answers.at(0));
  return 0;
}

CommandAction registerGenerate(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "generate", "Answer a prompt about an image with a compiled PaliGemma "
                  "step (greedy)");
  sub->add_option("file", options.artifact, "The .pgc artifact")->required();
  addModelSourceOptions(sub, options.model);
  sub->add_option("--image", options.image, "PNG or JPEG image")->required();
  sub->add_option("--prompt", options.prompt,
                  "The whole prompt, e.g. \"answer what color is the "
                  "circle?\"")
      ->required();
  sub->add_option("--max-new-tokens", options.maxNewTokens)
      ->capture_default_str();
  return [] { return generate(); };
}

CommandRegistration registration(41, registerGenerate);

} // namespace
} // namespace pgc::cli
