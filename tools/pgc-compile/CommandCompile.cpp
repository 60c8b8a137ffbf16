// `pgc compile`: builds a model with the DSL, runs the pass pipeline and writes
// the artifact.
#include "compiler/Driver/IRSummary.h"
#include "compiler/Lowering/LowerToPlan.h"
#include "compiler/Policy/Policy.h"
#include "compiler/Policy/PolicySummary.h"
#include "examples/Examples.h"
#include "models/paligemma/PaliGemma.h"
#include "models/paligemma/ParameterTable.h"
#include "passes/Passes.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/exec/MemoryReport.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "tools/pgc-compile/CudaBinaries.h"
#include "tools/pgc-compile/Subcommands.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <map>

namespace pgc::compile_tool {
namespace {

struct CompileOptions {
  std::string model;
  std::string output;
  int64_t batch = 4;
  int64_t seqLen = 8;
  std::string dtype = "f32";
  bool printIr = false;
  std::string config; // --model paligemma: built-in name or config.json
  bool printParams = false;
  bool train = false;
  bool strict = false;       // policy warnings are errors
  bool rematerialize = true; // pg-rematerialize on the way to an artifact
  std::string optim = "adamw_torch";
  std::string policy; // YAML policy or peft adapter_config.json
  std::string target = "cpu";
  std::string cudaArch; // "sm_80,sm_90": CUBINs of the generated kernels
  CLI::Option *seqLenOption = nullptr;
};

std::string listExamples() {
  std::string names = "paligemma";
  for (const auto &example : pgc::examples::exampleModels())
    names += ", " + example.name;
  return names;
}

// PaliGemma from a config; --seq-len defaults to the image tokens + 128.
void buildPaliGemma(pgc::dsl::ModuleBuilder &module,
                    const CompileOptions &options, pgc::DType dtype) {
  if (options.config.empty())
    pgc::fail("--model paligemma needs --config (a built-in name or a "
              "config.json)");
  pgc::models::PaliGemmaConfig config =
      pgc::models::loadPaliGemmaConfig(options.config);
  pgc::models::PaliGemmaBuildOptions build;
  build.shape.batch = options.batch;
  build.shape.seqLen = options.seqLenOption->count()
                           ? options.seqLen
                           : config.numImageTokens() + 128;
  build.dtype = dtype;
  pgc::models::buildPaliGemmaForward(module, config, build);
}

// A freeze/train policy lets pg-autodiff differentiate every parameter and
// pg-freeze cut what the policy freezes, so that its report shows what
// freezing removed. With LoRA or NF4 (or a peft adapter_config.json) only
// the adapters' paths are differentiated from the start.
bool differentiateTrainableOnly(const std::string &policy) {
  if (policy.empty())
    return false;
  llvm::StringRef path(policy);
  if (!path.ends_with(".yaml") && !path.ends_with(".yml"))
    return true;
  pgc::Policy rules = pgc::Policy::fromYamlFile(policy);
  return rules.lora().has_value() || rules.quantize().has_value();
}

// train_step (gradients into accumulators) and apply_update (AdamW) next to
// forward, which stays for evaluation.
void addTrainingFunctions(mlir::ModuleOp module,
                          const CompileOptions &options) {
  if (options.optim != "adamw_torch" && options.optim != "adamw_hf")
    pgc::fail("--optim '{}' is not adamw_torch or adamw_hf", options.optim);
  mlir::PassManager pm(module.getContext());
  mlir::pg::PgAutodiffOptions autodiff;
  autodiff.trainableOnly = differentiateTrainableOnly(options.policy);
  pm.addPass(mlir::pg::createPgAutodiff(autodiff));
  if (!options.policy.empty()) {
    // pg-freeze between the gradient and the optimizer: frozen parameters
    // lose their grad.<name> results, so pg-optimizer gives them no state.
    mlir::pg::PgFreezeOptions freeze;
    freeze.policy = options.policy;
    pm.addPass(mlir::pg::createPgFreeze(freeze));
  }
  mlir::pg::PgOptimizerOptions optimizer;
  optimizer.variant = options.optim;
  pm.addPass(mlir::pg::createPgOptimizer(optimizer));
  if (mlir::failed(pm.run(module)))
    pgc::fail("model '{}': building the training step failed (see the "
              "diagnostics above)",
              options.model);
  if (!autodiff.trainableOnly)
    return;
  // pg-freeze had nothing to cut because pg-autodiff never built a frozen
  // weight's gradient; say so next to its report.
  int64_t trainable = 0, frozen = 0;
  if (auto forward = module.lookupSymbol<mlir::func::FuncOp>("forward"))
    forward.walk([&](mlir::pg::ParamOp param) {
      ++(param.getTrainable() ? trainable : frozen);
    });
  std::printf("  pg-autodiff: gradients of the %lld trainable parameters "
              "only; none of the %lld frozen ones (NF4 or not) gets a "
              "weight-gradient matmul\n",
              static_cast<long long>(trainable),
              static_cast<long long>(frozen));
}

// LoRA adapters and NF4 storage as the policy says (policies/*.yaml).
void applyPolicy(mlir::ModuleOp module, const CompileOptions &options) {
  mlir::PassManager pm(module.getContext());
  mlir::pg::PgInsertLoraOptions lora;
  lora.policy = options.policy;
  pm.addPass(mlir::pg::createPgInsertLora(lora));
  mlir::pg::PgQuantizeNf4Options nf4;
  nf4.policy = options.policy;
  pm.addPass(mlir::pg::createPgQuantizeNf4(nf4));
  // The passes warn about a rule or target that matches nothing. MLIR's
  // default handler prints errors only, so print and count warnings here.
  int warnings = 0;
  mlir::ScopedDiagnosticHandler counter(
      module.getContext(), [&](mlir::Diagnostic &diag) -> mlir::LogicalResult {
        if (diag.getSeverity() != mlir::DiagnosticSeverity::Warning)
          return mlir::failure();
        ++warnings;
        std::fprintf(stderr, "pgc compile: warning: %s\n", diag.str().c_str());
        return mlir::success();
      });
  if (mlir::failed(pm.run(module)))
    pgc::fail("policy '{}': applying it failed (see the diagnostics above)",
              options.policy);
  if (options.strict && warnings > 0)
    pgc::fail("policy '{}': {} warning{} (see above), which --strict makes "
              "errors",
              options.policy, warnings, warnings == 1 ? "" : "s");
}

// pg-eval-mode on forward: its dropout (from a policy with lora dropout)
// becomes the identity, after pg-autodiff has cloned the training copy.
void setEvalMode(mlir::ModuleOp module) {
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::pg::createPgEvalMode());
  if (mlir::failed(pm.run(module)))
    pgc::fail("pg-eval-mode on 'forward' failed (see the diagnostics above)");
}

// pg-rematerialize, on the way to an artifact only (after every CSE): NF4
// weights are dequantized again and widening casts redone next to their
// backward use, instead of their results being kept alive across the step.
void rematerialize(mlir::ModuleOp module) {
  auto count = [&] {
    int64_t n = 0;
    module.walk([&](mlir::Operation *op) {
      n += mlir::isa<mlir::pg::DequantNF4Op, mlir::pg::CastOp>(op);
    });
    return n;
  };
  int64_t before = count();
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::pg::createPgRematerialize());
  if (mlir::failed(pm.run(module)))
    pgc::fail("pg-rematerialize failed (see the diagnostics above)");
  if (int64_t added = count() - before; added > 0)
    std::printf("pg-rematerialize: %lld more ops, dequantizations and "
                "widening casts recomputed next to far uses\n",
                static_cast<long long>(added));
}

// pg-fuse, the last pass, run only on the way to an artifact (the IR printed
// or written as .mlir stays open to every other pass): runs of elementwise
// ops become pg.fusion kernels, whose CUDA source the artifact carries. The
// CPU reference executor still runs their steps one by one.
void fuseElementwise(mlir::ModuleOp module) {
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::pg::createPgFuse());
  if (mlir::failed(pm.run(module)))
    pgc::fail("pg-fuse failed (see the diagnostics above)");
}

// The plan's size: entry points with their step counts, persistent bytes by
// role, and the file.
void printPlanSize(const pgc::Plan &plan, const std::string &path) {
  std::string entries;
  for (const pgc::PlanEntryPoint &entry : plan.entryPoints)
    entries += fmt::format("{}{} ({} steps)", entries.empty() ? "" : ", ",
                           entry.name, entry.steps.size());
  std::map<std::string, size_t> bytes;
  for (const pgc::PlanBuffer &buffer : plan.buffers)
    if (buffer.role != pgc::BufferRole::Temporary &&
        buffer.role != pgc::BufferRole::Input &&
        buffer.role != pgc::BufferRole::Output)
      bytes[std::string(pgc::bufferRoleName(buffer.role))] +=
          static_cast<size_t>(pgc::numElements(buffer.shape)) *
          pgc::dtypeSize(buffer.dtype);
  std::string persistent;
  for (const auto &[role, size] : bytes)
    persistent += fmt::format(", {} {:.2f} MiB", role, size / 1048576.0);
  std::error_code ec;
  auto fileSize = std::filesystem::file_size(path, ec);
  std::printf("plan: %s%s; file %.2f MiB\n", entries.c_str(),
              persistent.c_str(), ec ? 0.0 : fileSize / 1048576.0);
  // What each call needs on top: the arena of its temporaries (pgc inspect
  // shows what fills it).
  std::string arenas;
  for (const pgc::PlanEntryPoint &entry : plan.entryPoints)
    arenas += fmt::format("{}{} {}", arenas.empty() ? "" : ", ", entry.name,
                          pgc::formatBytes(pgc::planArena(plan, entry).bytes));
  std::printf("temporaries: %s\n", arenas.c_str());
}

int compile(const CompileOptions &options) {
  const pgc::examples::ExampleModel *example =
      pgc::examples::findExample(options.model);
  if (!example && options.model != "paligemma")
    pgc::fail("unknown model '{}' (known: {})", options.model, listExamples());
  std::optional<pgc::DType> dtype = pgc::parseDType(options.dtype);
  if (!dtype || !pgc::isFloat(*dtype))
    pgc::fail("--dtype '{}' is not a float type (bf16, f16, f32, f64)",
              options.dtype);
  // One target: a plan that the CPU reference executor runs op by op and
  // the GPU executor runs with the fused kernels the artifact carries.
  if (options.target != "cpu")
    pgc::fail("--target '{}': cpu is the only target (its artifact also runs "
              "on the GPU: pgc run --device cuda)",
              options.target);
  if (options.batch < 1 || options.seqLen < 1)
    pgc::fail("--batch and --seq-len must be positive");
  std::vector<int> cudaArchs;
  if (!options.cudaArch.empty())
    cudaArchs = pgc::compiler::parseCudaArchs(options.cudaArch);

  mlir::MLIRContext context;
  // pg-freeze reports what it cut as remarks; MLIR drops remarks without a
  // handler, so print them as the policy report. Other diagnostics go on to
  // the default handler.
  mlir::ScopedDiagnosticHandler remarks(
      &context, [](mlir::Diagnostic &diag) -> mlir::LogicalResult {
        if (diag.getSeverity() != mlir::DiagnosticSeverity::Remark)
          return mlir::failure();
        std::printf("  %s\n", diag.str().c_str());
        return mlir::success();
      });
  pgc::dsl::ModuleBuilder module(context);
  pgc::examples::ExampleOptions exampleOptions;
  exampleOptions.batch = options.batch;
  exampleOptions.seqLen = options.seqLen;
  exampleOptions.dtype = *dtype;
  if (example)
    example->build(module, exampleOptions);
  else
    buildPaliGemma(module, options, *dtype);
  if (mlir::failed(mlir::verify(module.module())))
    pgc::fail("model '{}' built invalid IR", options.model);
  if (!options.policy.empty())
    applyPolicy(module.module(), options);
  // A policy says what trains: an artifact compiled with one is a training
  // step. Without -o (the policy report alone) no backward is built.
  if (options.train || (!options.policy.empty() && !options.output.empty()))
    addTrainingFunctions(module.module(), options);
  // LoRA dropout stays in train_step only: forward evaluates and generates.
  if (!options.policy.empty())
    setEvalMode(module.module());

  std::string ir;
  llvm::raw_string_ostream os(ir);
  module.module().print(os);
  if (options.printIr)
    std::fputs(ir.c_str(), stdout);
  std::fputs(pgc::compiler::summarizeModule(module.module()).c_str(), stdout);
  if (!options.policy.empty())
    std::fputs(
        pgc::formatParameterSummary(pgc::summarizeParameters(module.module()))
            .c_str(),
        stdout);
  if (options.printParams)
    std::fputs(pgc::models::formatParameterTable(
                   pgc::models::groupParameters(module.module()))
                   .c_str(),
               stdout);
  if (options.output.empty())
    return 0;
  llvm::StringRef output(options.output);
  if (output.ends_with(".mlir")) {
    pgc::writeFileAtomically(options.output, ir);
    std::printf("wrote %s (%zu bytes of pg IR)\n", options.output.c_str(),
                ir.size());
    return 0;
  }
  if (options.rematerialize)
    rematerialize(module.module());
  fuseElementwise(module.module());
  pgc::Plan plan = pgc::compiler::lowerToPlan(module.module());
  // The configuration travels with the artifact, so that `pgc export` can
  // write a complete Hugging Face checkpoint folder.
  if (!example) {
    plan.metadata[pgc::kMetadataHfConfig] =
        pgc::models::paliGemmaConfigText(options.config);
    std::string hubId = pgc::models::paliGemmaHubId(options.config);
    if (!hubId.empty())
      plan.metadata[pgc::kMetadataBaseModel] = hubId;
  }
  size_t cubins = pgc::compiler::addCudaBinaries(plan, cudaArchs);
  pgc::writeArtifact(plan, options.output);
  size_t steps = 0;
  for (const pgc::PlanEntryPoint &entry : plan.entryPoints)
    steps += entry.steps.size();
  size_t fusedGroups = 0;
  for (const pgc::PlanEntryPoint &entry : plan.entryPoints)
    for (const pgc::PlanStep &step : entry.steps)
      fusedGroups += step.attributes.count(pgc::kStepKernel);
  std::printf("wrote %s: %zu entry points, %zu steps, %zu buffers, %zu "
              "parameters; %zu fused groups, %zu distinct CUDA kernels, %zu "
              "CUBINs\n",
              options.output.c_str(), plan.entryPoints.size(), steps,
              plan.buffers.size(), plan.parameters.size(), fusedGroups,
              plan.kernels.size() - cubins, cubins);
  printPlanSize(plan, options.output);
  return 0;
}

CompileOptions options;

SubcommandAction registerCompile(CLI::App &app) {
  CLI::App *sub =
      app.add_subcommand("compile", "Build a model and its training step");
  sub->add_option("--model", options.model,
                  "Model to build (examples: " + listExamples() + ")")
      ->required();
  sub->add_option("-o,--output", options.output,
                  "Output file: a .pgc artifact, or .mlir for the pg IR");
  sub->add_option("--batch", options.batch, "Batch size (static)")
      ->capture_default_str();
  options.seqLenOption =
      sub->add_option("--seq-len", options.seqLen, "Sequence length (static)")
          ->capture_default_str();
  sub->add_option("--config", options.config,
                  "For --model paligemma: paligemma-3b-pt-224, -448, -896 "
                  "or a config.json");
  sub->add_flag("--print-params", options.printParams,
                "Print the parameter table and totals");
  sub->add_option("--dtype", options.dtype,
                  "Compute dtype: bf16, f16, f32, f64")
      ->capture_default_str();
  sub->add_flag("--print-ir", options.printIr, "Print the pg IR to stdout");
  sub->add_flag("--strict", options.strict,
                "Policy warnings (a rule or target that matches nothing) are "
                "errors");
  sub->add_flag("!--no-rematerialize", options.rematerialize,
                "Keep dequantized NF4 weights and widened activations alive "
                "from forward to backward instead of recomputing them "
                "(pg-rematerialize): more memory, less work");
  sub->add_flag("--train", options.train,
                "Add train_step and apply_update (pg-autodiff, pg-optimizer)");
  sub->add_option("--optim", options.optim,
                  "With --train: adamw_torch (torch.optim.AdamW) or adamw_hf "
                  "(transformers' AdamW)")
      ->capture_default_str();
  sub->add_option("--policy", options.policy,
                  "Freeze/LoRA/NF4 policy: YAML (policies/*.yaml) or a peft "
                  "adapter_config.json; with -o it implies --train");
  sub->add_option("--target", options.target,
                  "Artifact target; cpu, the only one, is run by the CPU "
                  "reference executor and by the GPU executor (pgc run "
                  "--device cuda)")
      ->capture_default_str();
  sub->add_option(
      "--cuda-arch", options.cudaArch,
      "Also compile the generated CUDA kernels with NVRTC to CUBINs "
      "for these architectures (e.g. sm_80,sm_90; no GPU needed)");
  return [] { return compile(options); };
}

SubcommandRegistration registration(10, registerCompile);

} // namespace
} // namespace pgc::compile_tool
