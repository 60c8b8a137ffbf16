// `pgc exec FILE --entry NAME --inputs IN.safetensors --out OUT.safetensors`: runs one entry point.
#include "tools/pgc/Commands.h"

#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <fmt/format.h>

namespace pgc::cli {
namespace {

struct ExecOptions {
  std::string artifact;
  std::string entry = "forward";
  std::string inputs;
  std::string output;
  std::string weights;
  int64_t seed = -1;
};
ExecOptions options;

void loadWeights(Session &session, const std::string &path) {
  Checkpoint checkpoint = Checkpoint::open(path);
  for (const PlanParameter &param : session.plan().parameters) {
    if (!checkpoint.find(param.name))
      fail("{}: checkpoint has no tensor '{}'", path, param.name);
    DType dtype = session.plan().buffers[param.buffer].dtype;
    session.setParameter(param.name, checkpoint.load(param.name, dtype));
  }
}

int exec() {
  Session session(readArtifact(options.artifact));
  if (!options.weights.empty())
    loadWeights(session, options.weights);
  else if (options.seed >= 0)
    session.initializeParameters(static_cast<uint64_t>(options.seed));
  else if (!session.plan().parameters.empty())
    fail("{} has {} parameters: give --weights FILE or --seed N for random "
         "initialisation",
         options.artifact, session.plan().parameters.size());

  TensorMap inputs;
  if (!options.inputs.empty()) {
    SafetensorsFile file = SafetensorsFile::open(options.inputs);
    for (const TensorInfo &info : file.tensors())
      inputs[info.name] = file.tensor(info.name);
  }
  TensorMap outputs = session.run(options.entry, inputs);
  std::vector<std::pair<std::string, Tensor>> named(outputs.begin(),
                                                    outputs.end());
  writeSafetensors(options.output, named);
  fmt::print("{}: ran '{}', wrote {} outputs to {}\n", options.artifact,
             options.entry, named.size(), options.output);
  return 0;
}

CommandAction registerExec(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "exec", "Run one entry point of an artifact on the CPU reference "
              "executor");
  sub->add_option("file", options.artifact, "The .pgc artifact")->required();
  sub->add_option("--entry", options.entry, "Entry point to run")
      ->capture_default_str();
  sub->add_option("--inputs", options.inputs,
                  "safetensors file with one tensor per input, by name");
  sub->add_option("--out", options.output,
                  "safetensors file to write the outputs to")
      ->required();
  sub->add_option("--weights", options.weights,
                  "Checkpoint: .safetensors file, index.json or folder");
  sub->add_option("--seed", options.seed,
                  "Initialise parameters randomly with this seed");
  return [] { return exec(); };
}

CommandRegistration registration(30, registerExec);

} // namespace
} // namespace pgc::cli
