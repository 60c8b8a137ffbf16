// `pgc forward`: runs PaliGemma on one batch from a Hugging Face config and
// checkpoint, writing logits and loss.
#include "models/paligemma/ForwardRunner.h"
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"
#include "tools/pgc-compile/Subcommands.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace pgc::compile_tool {
namespace {

struct ForwardOptions {
  std::string config;
  std::string weights;
  std::string batch;
  std::string out;
  std::string policy;
  std::string dtype = "f32";
  bool backward = false;
};

int forward(const ForwardOptions &options) {
  models::ForwardRequest request;
  request.config = options.config;
  request.weights = options.weights;
  request.batch = options.batch;
  if (options.dtype == "f32")
    request.dtype = DType::F32;
  else if (options.dtype == "bf16")
    request.dtype = DType::BF16;
  else
    fail("--dtype '{}': expected f32 or bf16", options.dtype);
  if (!options.policy.empty() && !options.backward)
    fail("--policy '{}' decides which gradients --backward computes; add "
         "--backward",
         options.policy);
  request.backward = options.backward;
  request.policy = options.policy;

  TensorMap outputs =
      models::runPaliGemmaForward(request, [](const std::string &message) {
        std::fprintf(stderr, "pgc forward: %s\n", message.c_str());
      });
  std::vector<std::pair<std::string, Tensor>> written = {
      {"logits", outputs.at("logits")}, {"loss", outputs.at("loss")}};
  for (const auto &[name, tensor] : outputs)
    if (name.rfind("grad.", 0) == 0)
      written.emplace_back(name, tensor);
  writeSafetensors(options.out, written);
  std::printf("loss %.8g; wrote %s (%zu tensors)\n", outputs.at("loss").at(0),
              options.out.c_str(), written.size());
  return 0;
}

ForwardOptions options;

SubcommandAction registerForward(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "forward", "Run PaliGemma on one batch (CPU reference executor)");
  sub->add_option("--config", options.config,
                  "config.json, its folder, or a built-in name "
                  "(paligemma-3b-pt-224, -448, -896)")
      ->required();
  sub->add_option("--weights", options.weights,
                  "Checkpoint: .safetensors, folder, or sharded index")
      ->required();
  sub->add_option("--batch", options.batch,
                  "safetensors with pixel_values, input_ids, attention_mask, "
                  "token_type_ids, labels")
      ->required();
  sub->add_option("--out", options.out,
                  "Output safetensors: logits, loss (and grad.<name>)")
      ->required();
  sub->add_flag("--backward", options.backward,
                "Also write grad.<name> for every trainable parameter");
  sub->add_option("--policy", options.policy,
                  "Freeze/train policy (YAML) deciding what is trainable");
  sub->add_option("--dtype", options.dtype,
                  "f32, or bf16 (bf16 storage and matmuls, f32 norms, "
                  "softmax and loss)")
      ->capture_default_str();
  return [] { return forward(options); };
}

SubcommandRegistration registration(20, registerForward);

} // namespace
} // namespace pgc::compile_tool
