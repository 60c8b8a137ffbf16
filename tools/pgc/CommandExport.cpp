// `pgc export CHECKPOINT_OR_WEIGHTS --artifact STEP.pgc --merge -o DIR`: a
// Hugging Face checkpoint folder (model.safetensors, config.json, tokenizer)
// with the LoRA adapters merged into the base weights.
#include "tools/pgc/Commands.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/Adapters.h"
#include "runtime/train/CheckpointStore.h"
#include "runtime/train/Generation.h"
#include "runtime/weights/Safetensors.h"

#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct ExportOptions {
  std::string source;
  std::string artifact;
  bool merge = false;
  std::string output;
  std::string weights;
  std::string adapter;
  std::string dtype = "bf16";
  std::string tokenizer;
};
ExportOptions options;

void syncDirectory(const fs::path &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    fail("{}: cannot open to sync", dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    fail("{}: cannot sync", dir.string());
}

// The folder whose tokenizer to carry along: --tokenizer's, else the
// checkpoint's or the weights' folder (or its parent); "" when none has one.
std::string tokenizerFolder(const std::string &checkpoint,
                            const std::string &weights) {
  std::vector<fs::path> folders;
  if (!options.tokenizer.empty()) {
    fs::path given(options.tokenizer);
    if (!fs::exists(given))
      fail("--tokenizer {}: no such file or folder", options.tokenizer);
    folders.push_back(fs::is_directory(given) ? given : given.parent_path());
  } else {
    for (const std::string &place : {checkpoint, weights}) {
      if (place.empty())
        continue;
      fs::path dir = fs::is_directory(place) ? fs::path(place)
                                             : fs::path(place).parent_path();
      folders.push_back(dir);
      folders.push_back(dir.parent_path());
    }
  }
  for (const fs::path &dir : folders)
    if (!dir.empty() && fs::is_regular_file(dir / "tokenizer.model"))
      return dir.string();
  return {};
}

// config.json as the artifact recorded it, with torch_dtype saying what the
// exported weights hold.
std::string configJson(const Plan &plan, DType dtype) {
  auto it = plan.metadata.find(kMetadataHfConfig);
  if (it == plan.metadata.end())
    return "";
  nlohmann::ordered_json config =
      nlohmann::ordered_json::parse(it->second, nullptr, false);
  if (!config.is_object())
    fail("{}: the recorded config.json is not a JSON object", options.artifact);
  config["torch_dtype"] = dtype == DType::BF16 ? "bfloat16" : "float32";
  // PaliGemma reads SigLIP's last hidden state and has no pooling head;
  // without this transformers builds one and reports its weights missing.
  if (config.contains("vision_config") && config["vision_config"].is_object())
    config["vision_config"]["vision_use_head"] = false;
  return config.dump(2) + "\n";
}

int exportMerged() {
  std::optional<DType> dtype = parseDType(options.dtype);
  if (!dtype || (*dtype != DType::BF16 && *dtype != DType::F32))
    fail("--dtype '{}': use bf16 or f32", options.dtype);
  fs::path output(options.output);
  if (fs::exists(output))
    fail("-o {}: already exists; give a new folder", options.output);
  fs::path parent = fs::absolute(output).parent_path();
  if (!fs::is_directory(parent))
    fail("-o {}: the folder {} does not exist", options.output,
         parent.string());
  if (!fs::exists(options.source))
    fail("{}: no such file or folder", options.source);

  Plan plan = readArtifact(options.artifact);
  std::vector<train::LoraModule> modules =
      train::loraModules(plan, options.artifact);
  std::optional<train::LoraSettings> settings =
      train::requireLoraSettings(plan, options.artifact);
  if (options.merge && modules.empty())
    fail("{}: has no LoRA parameters, so --merge has nothing to merge (leave "
         "it out to export the weights as they are)",
         options.artifact);
  if (!options.merge && !modules.empty())
    fail("{}: has LoRA parameters: give --merge (the unmerged adapters are a "
         "checkpoint's adapter_model.safetensors)",
         options.artifact);

  // The base: --weights, else what the checkpoint records, else the source
  // itself (base weights, with adapters from --adapter).
  train::RunState base;
  std::string checkpoint;
  if (train::isRunCheckpoint(options.source)) {
    checkpoint = options.source;
    base = train::readRunState(checkpoint);
    if (!options.weights.empty()) {
      base.initWeights = options.weights;
      base.initStd = 0;
    }
  } else {
    if (!options.weights.empty())
      fail("{} is not a pgc run checkpoint: it is the base weights, so "
           "--weights {} is one too many",
           options.source, options.weights);
    if (!modules.empty() && options.adapter.empty())
      fail("{} is not a pgc run checkpoint: give the adapters with --adapter "
           "DIR",
           options.source);
    base.initWeights = options.source;
  }
  if (!base.initWeights.empty() && !fs::exists(base.initWeights))
    fail("--weights {}: no such file or folder", base.initWeights);

  train::setNormalInitStd(plan, base.initStd);
  Session session(std::move(plan));
  train::initializeModel(session, base, [](const std::string &message) {
    fmt::print(stderr, "pgc: warning: {}\n", message);
  });
  if (!checkpoint.empty())
    train::restoreTrainableParameters(checkpoint, session);
  if (!options.adapter.empty())
    train::loadAdapter(options.adapter, session, options.artifact);

  std::vector<std::pair<std::string, Tensor>> tensors = train::mergedParameters(
      session, settings ? &*settings : nullptr, options.artifact, *dtype);
  std::string config = configJson(session.plan(), *dtype);
  // The tokenizer as pgc reads it, and the files transformers'
  // PaliGemmaProcessor.from_pretrained reads, generated from it.
  std::vector<FolderFile> tokenizer;
  std::string tokenizerDir = tokenizerFolder(checkpoint, base.initWeights);
  if (!tokenizerDir.empty())
    tokenizer = train::tokenizerFolderFiles(
        train::setUpModelIO(session.plan(), options.artifact, tokenizerDir));

  // Everything goes into a hidden sibling first and appears by one rename,
  // so an error or a kill leaves no half-written DIR.
  fs::path temp = parent / fmt::format(".{}.tmp-{}", output.filename().string(),
                                       ::getpid());
  std::error_code ec;
  fs::remove_all(temp, ec);
  if (!fs::create_directories(temp, ec) || ec)
    fail("{}: cannot create: {}", temp.string(), ec ? ec.message() : "exists");
  try {
    writeSafetensors((temp / "model.safetensors").string(), tensors,
                     {{"format", "pt"}});
    if (!config.empty())
      writeFileAtomically((temp / "config.json").string(), config);
    for (const FolderFile &file : tokenizer)
      writeFileAtomically((temp / file.name).string(), file.content);
    syncDirectory(temp);
    if (fs::exists(output))
      fail("-o {}: appeared while exporting; left as it is", options.output);
    fs::rename(temp, output, ec);
    if (ec)
      fail("{}: cannot rename to {}: {}", temp.string(), options.output,
           ec.message());
    syncDirectory(parent);
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }

  if (config.empty())
    fmt::print(stderr,
               "pgc: warning: {} records no config.json (compiled from an "
               "example model or by an older pgc): {} has none\n",
               options.artifact, options.output);
  std::string extras = config.empty() ? "" : ", config.json";
  for (const FolderFile &file : tokenizer)
    extras += ", " + file.name;
  fmt::print("wrote {}: model.safetensors ({} tensors, {}; {} LoRA modules "
             "merged){}\n",
             options.output, tensors.size(), dtypeName(*dtype), modules.size(),
             extras);
  return 0;
}

CommandAction registerExport(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "export", "Write a Hugging Face checkpoint folder from a pgc run "
                "checkpoint (or base weights + --adapter), LoRA merged");
  sub->add_option("source", options.source,
                  "A pgc run checkpoint folder, or the base weights (then "
                  "--adapter gives the adapters)")
      ->required();
  sub->add_option("--artifact", options.artifact,
                  "The .pgc artifact the checkpoint was trained with")
      ->required();
  sub->add_flag("--merge", options.merge,
                "Merge LoRA adapters into the weights: W + scaling * B A "
                "(NF4 weights dequantized first)");
  sub->add_option("-o,--output", options.output,
                  "The new folder: model.safetensors, config.json, tokenizer "
                  "and processor files")
      ->required();
  sub->add_option("--weights", options.weights,
                  "Base weights instead of those the checkpoint records");
  sub->add_option("--adapter", options.adapter,
                  "A peft adapter folder (replaces the checkpoint's adapters)");
  sub->add_option("--dtype", options.dtype, "bf16 or f32")
      ->capture_default_str();
  sub->add_option("--tokenizer", options.tokenizer,
                  "tokenizer.model (or its folder) for DIR's tokenizer and "
                  "processor files (default: the checkpoint's or the "
                  "weights' folder)");
  return [] { return exportMerged(); };
}

CommandRegistration registration(43, registerExport);

} // namespace
} // namespace pgc::cli
