// libFuzzer target: any text, read as a policy YAML and as a peft
// adapter_config.json, either fails with pgc::Error or gives a policy whose
// queries answer without throwing. Anything else (a yaml-cpp or JSON
// exception escaping, a crash, a sanitizer report) is a bug.
#include "compiler/Policy/Policy.h"
#include "runtime/support/Error.h"

#include <string>

namespace {

void exercise(const pgc::Policy &policy) {
  for (const char *name :
       {"language_model.model.layers.0.self_attn.q_proj.weight",
        "vision_tower.vision_model.encoder.layers.1.mlp.fc1.bias",
        "multi_modal_projector.linear.weight", "", "a..b"})
    (void)policy.isTrainable(name);
  if (const auto &lora = policy.lora()) {
    (void)lora->scaling();
    for (const char *module : {"language_model.model.layers.0.mlp.up_proj",
                               "q_proj", "x.q_proj", ""})
      (void)lora->selects(module);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  for (const char *what : {"fuzz.yaml", "adapter_config.json"}) {
    try {
      pgc::Policy policy =
          std::string(what) == "fuzz.yaml"
              ? pgc::Policy::fromYamlString(text, what)
              : pgc::Policy::fromAdapterConfigString(text, what);
      exercise(policy);
    } catch (const pgc::Error &) {
    }
  }
  return 0;
}
