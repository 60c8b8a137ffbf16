// Strict reading of the few adapter_config.json fields pgc relies on.
#include "runtime/train/AdapterConfig.h"

#include "runtime/support/Error.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace pgc::train {

AdapterConfig parseAdapterConfig(std::string_view text,
                                 const std::string &what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded())
    fail("{}: not valid JSON", what);
  if (!json.is_object())
    fail("{}: not a JSON object", what);
  AdapterConfig config;
  if (auto type = json.find("peft_type"); type != json.end())
    if (!type->is_string() || type->get_ref<const std::string &>() != "LORA")
      fail("{}: peft_type is {}, not LORA", what, type->dump());
  auto r = json.find("r");
  if (r == json.end())
    fail("{}: no 'r'", what);
  if (!r->is_number_integer() || r->get<int64_t>() < 1 ||
      (r->is_number_unsigned() && r->get<uint64_t>() > uint64_t(INT64_MAX)))
    fail("{}: r must be an integer >= 1, not {}", what, r->dump());
  config.r = r->get<int64_t>();
  auto alpha = json.find("lora_alpha");
  if (alpha == json.end())
    fail("{}: no 'lora_alpha'", what);
  if (!alpha->is_number() || !std::isfinite(alpha->get<double>()))
    fail("{}: lora_alpha must be a finite number, not {}", what, alpha->dump());
  config.alpha = alpha->get<double>();
  if (auto rslora = json.find("use_rslora"); rslora != json.end()) {
    if (!rslora->is_boolean())
      fail("{}: use_rslora must be true or false, not {}", what,
           rslora->dump());
    config.rslora = rslora->get<bool>();
  }
  return config;
}

} // namespace pgc::train
