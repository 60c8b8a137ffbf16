// Saving, listing, rotating and restoring `pgc run` checkpoints.
#include "runtime/train/CheckpointStore.h"

#include "models/paligemma/Weights.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/Adapters.h"
#include "runtime/weights/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgc::train {

namespace {

constexpr const char *kPrefix = "checkpoint-";
constexpr const char *kTempPrefix = ".checkpoint-tmp-";
constexpr const char *kStateFile = "trainer_state.json";

// A rename is durable only once the folder that holds the entry is synced.
void syncDirectory(const fs::path &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    fail("{}: cannot open to sync: {}", dir.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    fail("{}: cannot sync: {}", dir.string(), std::strerror(errno));
}

// checkpoint-<digits> -> step; -1 for anything else.
int64_t stepOf(const fs::path &dir) {
  std::string name = dir.filename().string();
  std::string prefix = kPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0 ||
      name.size() == prefix.size())
    return -1;
  std::string digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), ::isdigit) ||
      digits.size() > 15)
    return -1;
  return std::stoll(digits);
}

std::map<std::string, std::string> formatMetadata() {
  return {{"format", "pt"}};
}

} // namespace

std::vector<std::string> trainableParameters(const Session &session) {
  std::vector<std::string> names;
  for (const PlanParameter &param : session.plan().parameters)
    for (const PlanBuffer &buffer : session.plan().buffers)
      if (buffer.role == BufferRole::Gradient &&
          buffer.name == "grad." + param.name) {
        names.push_back(param.name);
        break;
      }
  return names;
}

std::string saveCheckpoint(const std::string &outputDir, const Session &session,
                           const RunState &state,
                           const std::vector<FolderFile> &extraFiles) {
  fs::path out(outputDir);
  fs::path final = out / (kPrefix + std::to_string(state.step));
  fs::path temp = out / (kTempPrefix + std::to_string(state.step) + "-" +
                         std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(temp, ec);
  if (!fs::create_directories(temp, ec) || ec)
    fail("{}: cannot create: {}", temp.string(), ec ? ec.message() : "exists");

  // A write that fails part-way (a full disk, a file size limit) leaves no
  // half-written folder behind; earlier checkpoints are untouched.
  try {
    std::vector<std::pair<std::string, Tensor>> weights;
    for (const std::string &name : trainableParameters(session))
      weights.emplace_back(name, session.parameter(name));
    writeSafetensors((temp / "model.safetensors").string(), weights,
                     formatMetadata());
    std::vector<std::pair<std::string, Tensor>> optimizer;
    for (const std::string &name : session.stateNames())
      optimizer.emplace_back(name, session.state(name));
    writeSafetensors((temp / "optimizer.safetensors").string(), optimizer,
                     formatMetadata());
    // A LoRA step's adapters also go out in peft's format, for
    // PeftModel.from_pretrained and `pgc run/generate --adapter`.
    if (std::optional<LoraSettings> lora =
            loraSettings(session.plan(), outputDir))
      if (!loraModules(session.plan(), outputDir).empty())
        writeAdapter(temp.string(), session, *lora,
                     lora->baseModel.empty() ? state.initWeights
                                             : lora->baseModel);
    for (const FolderFile &file : extraFiles)
      writeFileAtomically((temp / file.name).string(), file.content);
    nlohmann::json json = {
        {"global_step", state.step},
        {"micro_batches", state.microBatches},
        {"epoch", state.epoch},
        {"loader",
         {{"epoch", state.loader.epoch},
          {"batch_index", state.loader.batchIndex}}},
        {"rng", {{"data_seed", state.dataSeed}}},
        {"init",
         {{"weights", state.initWeights},
          {"seed", state.initSeed},
          {"std", state.initStd}}},
    };
    // Written last: a folder with trainer_state.json is complete.
    writeFileAtomically((temp / kStateFile).string(), json.dump(2) + "\n");
    syncDirectory(temp);

  } catch (const Error &e) {
    fs::remove_all(temp, ec);
    fail("checkpoint-{} not saved (earlier checkpoints are kept): {}",
         state.step, e.what());
  }

  if (fs::exists(final)) {
    // Same step saved again (e.g. Ctrl-C right after a scheduled save):
    // the content is identical, so keep the existing one.
    fs::remove_all(temp, ec);
    return final.string();
  }
  if (::rename(temp.c_str(), final.c_str()) != 0)
    fail("{}: cannot rename to {}: {}", temp.string(), final.string(),
         std::strerror(errno));
  syncDirectory(out);
  return final.string();
}

std::vector<std::string> listCheckpoints(const std::string &outputDir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(outputDir, ec)) {
    int64_t step = stepOf(entry.path());
    if (step >= 0 && fs::is_regular_file(entry.path() / kStateFile))
      found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto &item : found)
    paths.push_back(item.second);
  return paths;
}

void rotateCheckpoints(const std::string &outputDir, int64_t limit) {
  if (limit <= 0)
    return;
  std::vector<std::string> all = listCheckpoints(outputDir);
  for (size_t i = 0; i + static_cast<size_t>(limit) < all.size(); ++i) {
    // Rename first so that a crash mid-delete leaves a temporary folder
    // (cleaned later) rather than a half-deleted checkpoint-N.
    fs::path doomed =
        fs::path(outputDir) / (kTempPrefix + std::string("old-") +
                               fs::path(all[i]).filename().string());
    std::error_code ec;
    fs::rename(all[i], doomed, ec);
    fs::remove_all(ec ? fs::path(all[i]) : doomed, ec);
  }
}

void removeIncompleteCheckpoints(const std::string &outputDir) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (const auto &entry : fs::directory_iterator(outputDir, ec))
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0)
      doomed.push_back(entry.path());
  for (const fs::path &path : doomed)
    fs::remove_all(path, ec);
}

RunState readRunState(const std::string &checkpointDir) {
  std::string path = (fs::path(checkpointDir) / kStateFile).string();
  std::vector<char> bytes = readFile(path);
  return parseRunState(std::string_view(bytes.data(), bytes.size()), path);
}

namespace {

void restoreFile(
    const fs::path &path, const std::vector<std::string> &names,
    const std::function<const Tensor &(const std::string &)> &get,
    const std::function<void(const std::string &, const Tensor &)> &set) {
  SafetensorsFile file = SafetensorsFile::open(path.string());
  if (file.tensors().size() != names.size())
    fail("{}: holds {} tensors, the artifact expects {}", path.string(),
         file.tensors().size(), names.size());
  for (const std::string &name : names) {
    const TensorInfo *info = file.find(name);
    if (!info)
      fail("{}: has no tensor '{}'", path.string(), name);
    const Tensor &current = get(name);
    if (info->dtype != current.dtype() || info->shape != current.shape())
      fail("{}: tensor '{}' is {} {}, the artifact has {} {}", path.string(),
           name, dtypeName(info->dtype), formatShape(info->shape),
           dtypeName(current.dtype()), formatShape(current.shape()));
    set(name, file.tensor(name).clone());
  }
}

} // namespace

void restoreTrainableParameters(const std::string &checkpointDir,
                                Session &session) {
  restoreFile(
      fs::path(checkpointDir) / "model.safetensors",
      trainableParameters(session),
      [&](const std::string &n) -> const Tensor & {
        return session.parameter(n);
      },
      [&](const std::string &n, const Tensor &t) {
        session.setParameter(n, t);
      });
}

void restoreCheckpoint(const std::string &checkpointDir, Session &session) {
  fs::path dir(checkpointDir);
  restoreFile(
      dir / "model.safetensors", trainableParameters(session),
      [&](const std::string &n) -> const Tensor & {
        return session.parameter(n);
      },
      [&](const std::string &n, const Tensor &t) {
        session.setParameter(n, t);
      });
  restoreFile(
      dir / "optimizer.safetensors", session.stateNames(),
      [&](const std::string &n) -> const Tensor & { return session.state(n); },
      [&](const std::string &n, const Tensor &t) { session.setState(n, t); });
}

bool isRunCheckpoint(const std::string &path) {
  return fs::is_regular_file(fs::path(path) / kStateFile);
}

void setNormalInitStd(Plan &plan, double std) {
  if (!(std > 0))
    return;
  for (PlanParameter &param : plan.parameters)
    if (param.init.rfind("normal(", 0) == 0)
      param.init = fmt::format("normal({})", std);
}

void initializeModel(Session &session, const RunState &state,
                     const std::function<void(const std::string &)> &warn) {
  if (state.initWeights.empty()) {
    session.initializeParameters(state.initSeed);
    return;
  }
  if (!fs::exists(state.initWeights))
    fail("--weights {}: no such file or folder", state.initWeights);
  if (isRunCheckpoint(state.initWeights)) {
    // A pgc run checkpoint holds only the trainable parameters; the others
    // come from wherever that run took them.
    RunState base = readRunState(state.initWeights);
    initializeModel(session, base, warn);
    restoreFile(
        fs::path(state.initWeights) / "model.safetensors",
        trainableParameters(session),
        [&](const std::string &n) -> const Tensor & {
          return session.parameter(n);
        },
        [&](const std::string &n, const Tensor &t) {
          session.setParameter(n, t);
        });
    return;
  }
  models::WeightLoadSummary summary = models::loadPaliGemmaWeights(
      session, Checkpoint::open(state.initWeights), warn);
  if (summary.freshAdapters.empty())
    return;
  // Base weights for a LoRA artifact: the adapters start as peft starts them
  // (A kaiming-uniform, B zeros), drawn from the run's seed.
  std::set<std::string> fresh(summary.freshAdapters.begin(),
                              summary.freshAdapters.end());
  session.initializeParameters(state.initSeed, [&](const PlanParameter &param) {
    return fresh.count(param.name) > 0;
  });
}

} // namespace pgc::train
