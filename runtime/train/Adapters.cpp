// peft adapter folders (adapter_model.safetensors + adapter_config.json) for
// a compiled step's LoRA parameters, and merging them into the base weights.
#include "runtime/train/Adapters.h"
#include "runtime/train/AdapterConfig.h"

#include "models/paligemma/Weights.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace fs = std::filesystem;

namespace pgc::train {
namespace {

constexpr const char *kLoraASuffix = ".lora_A.weight";
constexpr const char *kLoraBSuffix = ".lora_B.weight";
constexpr const char *kPeftPrefix = "base_model.model.";
constexpr const char *kAdapterWeights = "adapter_model.safetensors";
constexpr const char *kAdapterConfig = "adapter_config.json";

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string moduleOfAdapter(const std::string &name) {
  for (const char *suffix : {kLoraASuffix, kLoraBSuffix})
    if (endsWith(name, suffix))
      return name.substr(0, name.size() - std::string(suffix).size());
  return "";
}

// peft writes lora_alpha as the number the user gave, usually an integer.
nlohmann::json alphaJson(double alpha) {
  if (alpha == std::floor(alpha) && std::fabs(alpha) < 1e15)
    return static_cast<int64_t>(alpha);
  return alpha;
}

} // namespace

double LoraSettings::scaling() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(r))
                : alpha / static_cast<double>(r);
}

bool isLoraParameterName(const std::string &name) {
  return !moduleOfAdapter(name).empty();
}

std::vector<LoraModule> loraModules(const Plan &plan, const std::string &what) {
  std::vector<LoraModule> modules;
  for (const PlanParameter &param : plan.parameters) {
    if (!endsWith(param.name, kLoraASuffix))
      continue;
    LoraModule module;
    module.module = moduleOfAdapter(param.name);
    module.weight = module.module + ".weight";
    module.a = param.name;
    module.b = module.module + kLoraBSuffix;
    for (const std::string *name : {&module.b, &module.weight})
      if (!plan.findParameter(*name))
        fail("{}: LoRA parameter '{}' has no '{}'", what, module.a, *name);
    modules.push_back(std::move(module));
  }
  for (const PlanParameter &param : plan.parameters)
    if (endsWith(param.name, kLoraBSuffix) &&
        !plan.findParameter(moduleOfAdapter(param.name) + kLoraASuffix))
      fail("{}: LoRA parameter '{}' has no lora_A", what, param.name);
  return modules;
}

std::optional<LoraSettings> loraSettings(const Plan &plan,
                                         const std::string &what) {
  auto it = plan.metadata.find(kMetadataLora);
  if (it == plan.metadata.end())
    return std::nullopt;
  nlohmann::json json =
      nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  LoraSettings settings;
  try {
    settings.r = json.at("r").get<int64_t>();
    settings.alpha = json.at("lora_alpha").get<double>();
    settings.dropout = json.at("lora_dropout").get<double>();
    settings.rslora = json.at("use_rslora").get<bool>();
    const nlohmann::json &targets = json.at("target_modules");
    if (!targets.is_array() && !targets.is_string())
      fail("target_modules is neither a list nor a string");
    settings.targetModulesJson = targets.dump();
  } catch (const nlohmann::json::exception &e) {
    fail("{}: malformed LoRA metadata: {}", what, e.what());
  } catch (const Error &e) {
    fail("{}: malformed LoRA metadata: {}", what, e.what());
  }
  if (settings.r < 1)
    fail("{}: malformed LoRA metadata: r {}", what, settings.r);
  if (auto base = plan.metadata.find(kMetadataBaseModel);
      base != plan.metadata.end())
    settings.baseModel = base->second;
  return settings;
}

std::optional<LoraSettings> requireLoraSettings(const Plan &plan,
                                                const std::string &what) {
  std::optional<LoraSettings> settings = loraSettings(plan, what);
  if (!settings && !loraModules(plan, what).empty())
    fail("{}: has LoRA parameters but no recorded LoRA settings (compiled by "
         "an older pgc); recompile it",
         what);
  return settings;
}

std::string peftAdapterKey(const std::string &parameterName) {
  return kPeftPrefix + parameterName;
}

std::string adapterConfigJson(const LoraSettings &settings,
                              const std::string &baseModel) {
  // The keys peft's LoraConfig saves; those pgc has no use for are at the
  // values peft takes as "not used", so that peft rebuilds the same model.
  nlohmann::json config = {
      {"alpha_pattern", nlohmann::json::object()},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path",
       baseModel.empty() ? nlohmann::json(nullptr) : nlohmann::json(baseModel)},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layer_replication", nullptr},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"loftq_config", nlohmann::json::object()},
      {"lora_alpha", alphaJson(settings.alpha)},
      {"lora_bias", false},
      {"lora_dropout", settings.dropout},
      {"megatron_config", nullptr},
      {"megatron_core", "megatron.core"},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", settings.r},
      {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr},
      {"target_modules", nlohmann::json::parse(settings.targetModulesJson)},
      {"task_type", nullptr},
      {"use_dora", false},
      {"use_rslora", settings.rslora},
  };
  return config.dump(2) + "\n";
}

void writeAdapter(const std::string &dir, const Session &session,
                  const LoraSettings &settings, const std::string &baseModel) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const LoraModule &module : loraModules(session.plan(), dir))
    for (const std::string *name : {&module.a, &module.b})
      tensors.emplace_back(peftAdapterKey(*name), session.parameter(*name));
  writeSafetensors((fs::path(dir) / kAdapterWeights).string(), tensors,
                   {{"format", "pt"}});
  writeFileAtomically((fs::path(dir) / kAdapterConfig).string(),
                      adapterConfigJson(settings, baseModel));
}

void loadAdapter(const std::string &dir, Session &session,
                 const std::string &what) {
  const Plan &plan = session.plan();
  std::vector<LoraModule> modules = loraModules(plan, what);
  if (modules.empty())
    fail("--adapter {}: {} has no LoRA parameters to load it into", dir, what);
  std::optional<LoraSettings> settings = requireLoraSettings(plan, what);
  fs::path folder(dir);
  if (!fs::is_directory(folder))
    fail("--adapter {}: no such folder", dir);
  std::string configPath = (folder / kAdapterConfig).string();
  std::string weightsPath = (folder / kAdapterWeights).string();
  for (const std::string *path : {&configPath, &weightsPath})
    if (!fs::is_regular_file(*path))
      fail("{}: no such file", *path);

  std::vector<char> configBytes = readFile(configPath);
  AdapterConfig config = parseAdapterConfig(
      std::string_view(configBytes.data(), configBytes.size()), configPath);
  if (config.r != settings->r)
    fail("{}: r is {}, the artifact was compiled with r {}", configPath,
         config.r, settings->r);
  if (config.alpha != settings->alpha)
    fail("{}: lora_alpha is {}, the artifact was compiled with {}", configPath,
         config.alpha, settings->alpha);
  if (config.rslora != settings->rslora)
    fail("{}: use_rslora is {}, the artifact was compiled with {}", configPath,
         config.rslora, settings->rslora);

  std::set<std::string> expected;
  for (const LoraModule &module : modules) {
    expected.insert(module.a);
    expected.insert(module.b);
  }
  SafetensorsFile file = SafetensorsFile::open(weightsPath);
  std::map<std::string, std::string> found; // parameter -> key
  for (const TensorInfo &info : file.tensors()) {
    const std::string &key = info.name;
    std::string prefix = kPeftPrefix;
    // Either transformers layout maps to the artifact's (legacy) names.
    std::string name =
        key.compare(0, prefix.size(), prefix) == 0
            ? models::legacyParameterName(key.substr(prefix.size()))
            : "";
    if (!expected.count(name))
      fail("{}: key '{}' is not a LoRA parameter of {} (expected "
           "'base_model.model.<module>.lora_A.weight' or '.lora_B.weight' "
           "for an adapted module)",
           weightsPath, key, what);
    if (!found.emplace(name, key).second)
      fail("{}: keys '{}' and '{}' are the same parameter '{}'", weightsPath,
           found[name], key, name);
    const Tensor &slot = session.parameter(name);
    if (info.shape != slot.shape())
      fail("{}: tensor '{}' has shape {}, the artifact's '{}' is {}",
           weightsPath, key, formatShape(info.shape), name,
           formatShape(slot.shape()));
    if (!info.loadable || !isFloat(info.dtype))
      fail("{}: tensor '{}' has dtype {}, expected a float type", weightsPath,
           key, info.storedDType);
  }
  for (const std::string &name : expected)
    if (!found.count(name))
      fail("{}: no tensor '{}' for the artifact's LoRA parameter '{}'",
           weightsPath, peftAdapterKey(name), name);
  for (const auto &[name, key] : found)
    session.setParameter(name, file.tensor(key));
}

std::vector<std::pair<std::string, Tensor>>
mergedParameters(const Session &session, const LoraSettings *settings,
                 const std::string &what, DType as) {
  const Plan &plan = session.plan();
  std::map<std::string, const LoraModule *> byWeight;
  std::vector<LoraModule> modules = loraModules(plan, what);
  for (const LoraModule &module : modules)
    byWeight[module.weight] = &module;
  if (!modules.empty() && !settings)
    fail("{}: has LoRA parameters but no LoRA settings", what);

  std::vector<std::pair<std::string, Tensor>> merged;
  for (const PlanParameter &param : plan.parameters) {
    if (isLoraParameterName(param.name))
      continue;
    const Tensor &stored = session.parameter(param.name);
    // bitsandbytes' merge dequantizes the 4-bit weight first, as here.
    Tensor weight =
        param.nf4 ? quant::dequantizeNf4(
                        viewNf4(stored, param.nf4->shape, param.nf4->blockSize,
                                param.nf4->doubleQuant, param.name),
                        DType::F32)
                  : stored.to(DType::F32);
    auto it = byWeight.find(param.name);
    if (it != byWeight.end()) {
      Tensor a = session.parameter(it->second->a).to(DType::F64);
      Tensor b = session.parameter(it->second->b).to(DType::F64);
      const int64_t out = b.dim(0), r = b.dim(1), in = a.dim(1);
      if (weight.rank() != 2 || weight.dim(0) != out || weight.dim(1) != in ||
          a.dim(0) != r)
        fail("{}: LoRA shapes of '{}' do not fit: W {}, A {}, B {}", what,
             it->second->module, formatShape(weight.shape()),
             formatShape(a.shape()), formatShape(b.shape()));
      const double scaling = settings->scaling();
      const double *pa = a.data<double>(), *pb = b.data<double>();
      Tensor sum(DType::F32, weight.shape());
      const float *pw = weight.data<float>();
      float *ps = sum.data<float>();
      std::vector<double> row(static_cast<size_t>(in));
      for (int64_t i = 0; i < out; ++i) {
        std::fill(row.begin(), row.end(), 0.0);
        for (int64_t k = 0; k < r; ++k) {
          double bik = pb[i * r + k];
          const double *ak = pa + k * in;
          for (int64_t j = 0; j < in; ++j)
            row[j] += bik * ak[j];
        }
        for (int64_t j = 0; j < in; ++j)
          ps[i * in + j] = static_cast<float>(
              static_cast<double>(pw[i * in + j]) + scaling * row[j]);
      }
      weight = sum;
    }
    merged.emplace_back(param.name,
                        weight.dtype() == as ? weight : weight.to(as));
  }
  return merged;
}

} // namespace pgc::train
