// Checkpoint name mapping and validated loading of PaliGemma parameters into a
// Session.
#include "models/paligemma/Weights.h"

#include "runtime/support/Error.h"

#include <map>
#include <utility>

namespace pgc::models {
namespace {

bool startsWith(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

std::string legacyParameterName(const std::string &name) {
  static const std::pair<const char *, const char *> renames[] = {
      {"model.language_model.", "language_model.model."},
      {"model.vision_tower.", "vision_tower."},
      {"model.multi_modal_projector.", "multi_modal_projector."},
      {"lm_head.", "language_model.lm_head."},
  };
  for (const auto &[newer, legacy] : renames)
    if (startsWith(name, newer))
      return legacy + name.substr(std::string(newer).size());
  return name;
}

bool isLoraAdapterName(const std::string &name) {
  // The suffixes runtime/train/Adapters.cpp also keys on.
  for (std::string suffix : {".lora_A.weight", ".lora_B.weight"})
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

WeightLoadSummary
loadPaliGemmaWeights(Session &session, const Checkpoint &checkpoint,
                     const std::function<void(const std::string &)> &warn) {
  const std::string &origin = checkpoint.path();
  // legacy name -> checkpoint name
  std::map<std::string, std::string> available;
  for (const std::string &name : checkpoint.names()) {
    std::string legacy = legacyParameterName(name);
    auto [it, inserted] = available.emplace(legacy, name);
    if (!inserted)
      fail("{}: tensors '{}' and '{}' are the same parameter '{}' in two "
           "layouts",
           origin, it->second, name, legacy);
  }

  WeightLoadSummary summary;
  const Plan &plan = session.plan();
  for (const PlanParameter &parameter : plan.parameters) {
    const Tensor &slot = session.parameter(parameter.name);
    // An NF4 parameter's buffer holds packed bytes; the checkpoint holds the
    // weight at its logical shape, which setParameter quantizes.
    const Shape &expected = parameter.nf4 ? parameter.nf4->shape : slot.shape();
    DType expectedDType = parameter.nf4 ? DType::F32 : slot.dtype();
    auto it = available.find(parameter.name);
    if (it == available.end() && isLoraAdapterName(parameter.name)) {
      summary.freshAdapters.push_back(parameter.name);
      continue;
    }
    if (it == available.end())
      fail("{}: tensor '{}' is missing (the model expects {} {})", origin,
           parameter.name, dtypeName(expectedDType), formatShape(expected));
    const TensorInfo *info = checkpoint.find(it->second);
    if (info->shape != expected)
      fail("{}: tensor '{}' has shape {}, the model expects {}", origin,
           it->second, formatShape(info->shape), formatShape(expected));
    if (!info->loadable ||
        !(info->dtype == DType::F32 || info->dtype == DType::BF16 ||
          info->dtype == DType::F16))
      fail("{}: tensor '{}' has dtype {}, expected F32, BF16 or F16", origin,
           it->second, info->storedDType);
    session.setParameter(parameter.name, checkpoint.view(it->second));
    ++summary.loaded;
    available.erase(it);
  }

  auto lmHead = available.find(kTiedLmHeadName);
  if (lmHead != available.end()) {
    const PlanParameter *embed =
        plan.findParameter("language_model.model.embed_tokens.weight");
    const TensorInfo *info = checkpoint.find(lmHead->second);
    if (embed) {
      const Shape &expected = session.parameter(embed->name).shape();
      if (info->shape != expected)
        fail("{}: tensor '{}' has shape {}, the model ties it to "
             "embed_tokens {}",
             origin, lmHead->second, formatShape(info->shape),
             formatShape(expected));
    }
    available.erase(lmHead);
  }
  for (const auto &[legacy, name] : available) {
    summary.unknown.push_back(name);
    warn(origin + ": tensor '" + name +
         "' is not a parameter of the model; "
         "ignored");
  }
  return summary;
}

} // namespace pgc::models
