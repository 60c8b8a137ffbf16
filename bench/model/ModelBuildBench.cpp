// Benchmark: wall time to build PaliGemma's forward with the DSL, add
// train_step (pg-autodiff) and lower to a Plan.
#include "compiler/Lowering/LowerToPlan.h"
#include "dsl/Builder.h"
#include "models/paligemma/ForwardRunner.h"
#include "models/paligemma/PaliGemma.h"
#include "runtime/support/Error.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

size_t countOps(mlir::ModuleOp module) {
  size_t ops = 0;
  module.walk([&](mlir::Operation *) { ++ops; });
  return ops;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Time building and lowering PaliGemma's training graph"};
  std::string configName = "paligemma-3b-pt-224";
  int64_t batch = 16, textTokens = 128;
  std::string dtypeName = "bf16";
  app.add_option("--config", configName, "Built-in name or config.json")
      ->capture_default_str();
  app.add_option("--batch", batch, "Batch size")->capture_default_str();
  app.add_option("--text-tokens", textTokens, "Tokens after the image tokens")
      ->capture_default_str();
  app.add_option("--dtype", dtypeName, "f32 or bf16")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    pgc::models::PaliGemmaConfig config =
        pgc::models::loadPaliGemmaConfig(configName);
    pgc::models::PaliGemmaBuildOptions options;
    options.shape = {batch, config.numImageTokens() + textTokens};
    options.dtype = dtypeName == "bf16" ? pgc::DType::BF16 : pgc::DType::F32;

    auto start = std::chrono::steady_clock::now();
    mlir::MLIRContext context;
    pgc::dsl::ModuleBuilder module(context);
    pgc::models::buildPaliGemmaForward(module, config, options);
    double build = secondsSince(start);
    size_t forwardOps = countOps(module.module());

    start = std::chrono::steady_clock::now();
    pgc::models::addTrainStep(module.module(), "", [](const std::string &) {});
    double autodiff = secondsSince(start);
    size_t allOps = countOps(module.module());

    start = std::chrono::steady_clock::now();
    if (mlir::failed(mlir::verify(module.module())))
      pgc::fail("the training graph does not verify");
    double verify = secondsSince(start);

    start = std::chrono::steady_clock::now();
    pgc::Plan plan = pgc::compiler::lowerToPlan(module.module());
    double lower = secondsSince(start);
    size_t steps = 0;
    for (const pgc::PlanEntryPoint &entry : plan.entryPoints)
      steps += entry.steps.size();

    std::printf("bench model-build %s batch %lld seq %lld %s: build %.3f s "
                "(%zu ops), autodiff %.3f s (%zu ops), verify %.3f s, lower "
                "%.3f s (%zu steps, %zu buffers), total %.3f s\n",
                configName.c_str(), (long long)batch,
                (long long)options.shape.seqLen, dtypeName.c_str(), build,
                forwardOps, autodiff, allOps, verify, lower, steps,
                plan.buffers.size(), build + autodiff + verify + lower);
  } catch (const pgc::Error &e) {
    std::fprintf(stderr, "pgc-bench-model: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
