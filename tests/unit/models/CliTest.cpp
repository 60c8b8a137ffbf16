// `pgc forward` and `pgc compile --model paligemma` as a user runs them:
// outputs, exit codes, one-line errors.
#include "ModelTestSupport.h"

#include "runtime/artifact/Plan.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sys/wait.h>

namespace pgc::models {
namespace {

using namespace testing;

struct RunResult {
  int exitCode;
  std::string out, err;
};

RunResult runPgc(const std::string &arguments) {
  std::string folder = temporaryFolder();
  std::string command = std::string(PGC_BINARY_DIR) + "/bin/pgc " + arguments +
                        " >" + folder + "/out.txt 2>" + folder + "/err.txt";
  int status = std::system(command.c_str());
  std::vector<char> out = readFile(folder + "/out.txt");
  std::vector<char> err = readFile(folder + "/err.txt");
  std::filesystem::remove_all(folder);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string(out.begin(), out.end()),
          std::string(err.begin(), err.end())};
}

std::string goldenArguments() {
  return " --config " + goldenPath("config.json") + " --weights " +
         goldenPath("model.safetensors") + " --batch " +
         goldenPath("golden.safetensors");
}

TEST(PgcForwardCli, WritesLogitsLossAndGradientsOfGoldenSetA) {
  std::string out = temporaryFolder() + "/out.safetensors";
  RunResult run =
      runPgc("forward" + goldenArguments() + " --out " + out + " --backward");
  ASSERT_EQ(run.exitCode, 0) << run.err;
  SafetensorsFile written = SafetensorsFile::open(out);
  SafetensorsFile golden =
      SafetensorsFile::open(goldenPath("golden.safetensors"));
  Tensor loss = written.tensor("loss");
  ASSERT_EQ(loss.shape(), (Shape{1}));
  EXPECT_EQ(loss.dtype(), DType::F32);
  EXPECT_NEAR(loss.at(0), golden.tensor("loss").at(0),
              1e-5 * golden.tensor("loss").at(0));
  Tensor mask = golden.tensor("attention_mask");
  Tensor logits = golden.tensor("logits");
  EXPECT_LE(maxAbsDifference(written.tensor("logits"), logits, &mask),
            1e-5 * maxAbs(logits, &mask));
  size_t gradients = 0;
  for (const TensorInfo &info : written.tensors()) {
    gradients += info.name.rfind("grad.", 0) == 0;
    EXPECT_EQ(info.dtype, DType::F32) << info.name;
  }
  EXPECT_EQ(gradients, 59u);
}

TEST(PgcForwardCli, BadInputIsOneLineNamingTheTensorAndNothingIsWritten) {
  std::string folder = temporaryFolder();
  Checkpoint golden = Checkpoint::open(goldenPath("model.safetensors"));
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string &name : golden.names())
    if (name != "multi_modal_projector.linear.bias")
      tensors.emplace_back(name, golden.load(name, DType::F32));
  writeSafetensors(folder + "/partial.safetensors", tensors);
  std::string out = folder + "/out.safetensors";
  RunResult run =
      runPgc("forward --config " + goldenPath("config.json") + " --weights " +
             folder + "/partial.safetensors" + " --batch " +
             goldenPath("golden.safetensors") + " --out " + out);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_NE(run.err.find("'multi_modal_projector.linear.bias' is missing"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  // A batch whose rows hold the wrong number of <image> tokens.
  SafetensorsFile batch =
      SafetensorsFile::open(goldenPath("golden.safetensors"));
  Tensor ids = batch.tensor("input_ids").clone();
  ids.set(3, 5);
  std::vector<std::pair<std::string, Tensor>> bad = {
      {"pixel_values", batch.tensor("pixel_values")},
      {"input_ids", ids},
      {"attention_mask", batch.tensor("attention_mask")},
      {"token_type_ids", batch.tensor("token_type_ids")},
      {"labels", batch.tensor("labels")}};
  writeSafetensors(folder + "/bad-batch.safetensors", bad);
  run = runPgc("forward --config " + goldenPath("config.json") + " --weights " +
               goldenPath("model.safetensors") + " --batch " + folder +
               "/bad-batch.safetensors --out " + out);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE(run.err.find("input_ids row 0 holds 15 <image> tokens (id 256), "
                         "the model expects 16"),
            std::string::npos)
      << run.err;
}

TEST(PgcCompileCli, PrintsTheParameterTableOfThe3BModelWithoutWeights) {
  RunResult run = runPgc("compile --model paligemma --config "
                         "paligemma-3b-pt-224 --batch 16 --print-params");
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_NE(run.out.find("total 2,923,466,480 parameters"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("vision_tower.vision_model.encoder.layers.*.mlp.fc1."
                         "weight"),
            std::string::npos);
}

// DESIGN.md's codegen check: every generated kernel of the tiny and of the
// full 3B training graph compiles with NVRTC for A100 and H100, no GPU needed.
TEST(PgcCompileCli, EveryGeneratedKernelOfTheTinyAnd3BGraphsCompilesToCubins) {
  std::string tinyConfig =
      std::string(PGC_SOURCE_DIR) + "/examples/tiny-paligemma/config.json";
  std::string policy =
      std::string(PGC_SOURCE_DIR) + "/policies/seed-qlora.yaml";
  for (const std::string &config :
       {tinyConfig, std::string("paligemma-3b-pt-224")}) {
    std::string folder = temporaryFolder();
    std::string artifact = folder + "/step.pgc";
    RunResult run = runPgc(
        "compile --model paligemma --config " + config + " --policy " + policy +
        " --batch 2 --seq-len 272 --cuda-arch sm_80,sm_90 -o " + artifact);
    if (run.exitCode != 0 &&
        run.err.find("NVRTC is not available") != std::string::npos)
      GTEST_SKIP() << run.err;
    ASSERT_EQ(run.exitCode, 0) << run.err;
    Plan plan = readArtifact(artifact);
    RunResult inspect = runPgc("inspect --no-steps " + artifact);
    std::filesystem::remove_all(folder);
    ASSERT_EQ(inspect.exitCode, 0) << inspect.err;
    std::map<std::string, std::set<std::string>> archsOf;
    size_t sources = 0;
    for (const PlanKernel &kernel : plan.kernels) {
      if (kernel.arch.empty()) {
        ++sources;
        EXPECT_NE(kernel.source.find("extern \"C\" __global__"),
                  std::string::npos);
        archsOf[kernel.name];
        continue;
      }
      ASSERT_GE(kernel.binary.size(), 4u) << kernel.name;
      EXPECT_EQ(std::string(kernel.binary.begin(), kernel.binary.begin() + 4),
                "\x7f"
                "ELF")
          << kernel.name << " " << kernel.arch;
      archsOf[kernel.name].insert(kernel.arch);
    }
    EXPECT_GT(sources, 10u) << config;
    EXPECT_EQ(archsOf.size(), sources) << config;
    for (const auto &[name, archs] : archsOf)
      EXPECT_EQ(archs, (std::set<std::string>{"sm_80", "sm_90"})) << name;
    // pgc inspect lists every kernel: one line for the source (with the
    // number of groups it computes) and one per CUBIN.
    size_t groups = 0;
    for (const PlanEntryPoint &entry : plan.entryPoints)
      for (const PlanStep &step : entry.steps)
        groups += step.attributes.count(kStepKernel);
    const PlanKernel &first = plan.kernels.front();
    EXPECT_NE(inspect.out.find("\nkernels\n  cuda " + first.name + ": " +
                               std::to_string(first.source.size()) +
                               " bytes of source"),
              std::string::npos)
        << inspect.out;
    EXPECT_NE(inspect.out.find("  cuda " + first.name + " sm_90: "),
              std::string::npos);
    // Every CUBIN's ELF header names the architecture of its label.
    EXPECT_EQ(inspect.out.find("(BAD"), std::string::npos) << inspect.out;
    size_t listedGroups = 0;
    for (size_t at = inspect.out.find(" bytes of source, ");
         at != std::string::npos;
         at = inspect.out.find(" bytes of source, ", at + 1))
      listedGroups += std::stoul(inspect.out.substr(at + 18));
    EXPECT_EQ(listedGroups, groups);
    EXPECT_NE(run.out.find(std::to_string(sources) +
                           " distinct CUDA kernels, " +
                           std::to_string(2 * sources) + " CUBINs"),
              std::string::npos)
        << run.out;
    // A CUBIN relabelled for another architecture, and one cut short, are
    // flagged by pgc inspect (a runtime refuses to load them).
    if (config == tinyConfig) {
      std::filesystem::create_directories(folder);
      Plan bad = plan;
      for (PlanKernel &kernel : bad.kernels)
        if (kernel.arch == "sm_90") {
          kernel.arch = "sm_80";
          break;
        }
      for (PlanKernel &kernel : bad.kernels)
        if (kernel.arch == "sm_90") {
          kernel.binary.resize(32);
          break;
        }
      writeArtifact(bad, folder + "/bad.pgc");
      RunResult flagged = runPgc("inspect --no-steps " + folder + "/bad.pgc");
      std::filesystem::remove_all(folder);
      EXPECT_NE(flagged.out.find(" (BAD: the CUBIN is for sm_90)"),
                std::string::npos)
          << flagged.out;
      EXPECT_NE(flagged.out.find(" (BAD: binary: not a CUBIN (no ELF header))"),
                std::string::npos)
          << flagged.out;
    }
  }
}

// pgc inspect says whether the GPU executor runs a plan: every step of the
// MLP's and of PaliGemma's QLoRA training has a GPU kernel; a plan whose
// elementwise steps were never fused (an artifact made without pg-fuse) has
// not.
TEST(PgcInspectCli, SaysWhetherTheGpuExecutorRunsEveryStep) {
  std::string folder = temporaryFolder();
  RunResult mlp =
      runPgc("compile --model mlp --train -o " + folder + "/mlp.pgc");
  ASSERT_EQ(mlp.exitCode, 0) << mlp.err;
  RunResult mlpInspect = runPgc("inspect --no-steps " + folder + "/mlp.pgc");
  EXPECT_NE(mlpInspect.out.find("\ngpu: every step has a GPU kernel\n"),
            std::string::npos)
      << mlpInspect.out;
  std::string tinyConfig =
      std::string(PGC_SOURCE_DIR) + "/examples/tiny-paligemma/config.json";
  RunResult tiny = runPgc("compile --model paligemma --config " + tinyConfig +
                          " --policy " + std::string(PGC_SOURCE_DIR) +
                          "/policies/seed-qlora.yaml --batch 2 --seq-len 272 "
                          "-o " +
                          folder + "/tiny.pgc");
  ASSERT_EQ(tiny.exitCode, 0) << tiny.err;
  RunResult tinyInspect = runPgc("inspect --no-steps " + folder + "/tiny.pgc");
  EXPECT_NE(tinyInspect.out.find("\ngpu: every step has a GPU kernel\n"),
            std::string::npos)
      << tinyInspect.out;
  // The memory section: persistent bytes, and one arena line per entry.
  EXPECT_NE(tinyInspect.out.find("\nmemory\n  persistent "), std::string::npos)
      << tinyInspect.out;
  for (const char *entry : {"forward", "train_step", "apply_update"})
    EXPECT_NE(tinyInspect.out.find(std::string("\n  ") + entry + ": arena "),
              std::string::npos)
        << entry;
  // The same MLP with its fused groups taken apart: its elementwise steps
  // have no kernel of their own.
  Plan unfused = readArtifact(folder + "/mlp.pgc");
  size_t elementwise = 0;
  for (PlanEntryPoint &entry : unfused.entryPoints)
    for (PlanStep &step : entry.steps) {
      elementwise += step.attributes.erase(kStepKernel);
      step.attributes.erase(kStepFusedSteps);
      step.attributes.erase(kStepKernelArgs);
    }
  unfused.kernels.clear();
  writeArtifact(unfused, folder + "/unfused.pgc");
  RunResult unfusedInspect =
      runPgc("inspect --no-steps " + folder + "/unfused.pgc");
  std::filesystem::remove_all(folder);
  EXPECT_GT(elementwise, 0u);
  EXPECT_NE(unfusedInspect.out.find(" without a GPU kernel yet: add ("),
            std::string::npos)
      << unfusedInspect.out;
}

// pgc compile runs pg-rematerialize on the way to an artifact: the QLoRA
// step dequantizes its NF4 weights again for the backward pass and holds a
// smaller train_step arena; --no-rematerialize keeps the forward's copies.
TEST(PgcCompileCli, RematerializationShrinksTheArenaAndCanBeTurnedOff) {
  std::string folder = temporaryFolder();
  std::string compile =
      "compile --model paligemma --config " + std::string(PGC_SOURCE_DIR) +
      "/examples/tiny-paligemma/config.json --policy " +
      std::string(PGC_SOURCE_DIR) +
      "/policies/seed-qlora.yaml --dtype bf16 --batch 2 --seq-len 64 -o " +
      folder;
  RunResult again = runPgc(compile + "/again.pgc");
  RunResult kept = runPgc(compile + "/kept.pgc --no-rematerialize");
  ASSERT_EQ(again.exitCode, 0) << again.err;
  ASSERT_EQ(kept.exitCode, 0) << kept.err;
  EXPECT_NE(again.out.find("pg-rematerialize: "), std::string::npos)
      << again.out;
  EXPECT_EQ(kept.out.find("pg-rematerialize: "), std::string::npos) << kept.out;
  // The summary ends with each entry point's arena of temporaries.
  EXPECT_NE(again.out.find("\ntemporaries: forward "), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find(", train_step "), std::string::npos) << again.out;
  Plan againPlan = readArtifact(folder + "/again.pgc");
  Plan keptPlan = readArtifact(folder + "/kept.pgc");
  std::filesystem::remove_all(folder);
  auto dequantizations = [](const PlanEntryPoint &entry) {
    return std::count_if(
        entry.steps.begin(), entry.steps.end(),
        [](const PlanStep &step) { return step.op == "dequant_nf4"; });
  };
  const PlanEntryPoint &againStep = *againPlan.findEntryPoint("train_step");
  const PlanEntryPoint &keptStep = *keptPlan.findEntryPoint("train_step");
  EXPECT_GT(dequantizations(againStep), dequantizations(keptStep));
  EXPECT_LT(planArena(againPlan, againStep).bytes,
            planArena(keptPlan, keptStep).bytes);
}

TEST(PgcCompileCli, BadCudaArchitecturesFailBeforeWriting) {
  std::string folder = temporaryFolder();
  for (const char *arch : {"sm_8x", "sm_20"}) {
    RunResult run = runPgc("compile --model mlp --cuda-arch " +
                           std::string(arch) + " -o " + folder + "/x.pgc");
    EXPECT_EQ(run.exitCode, 1) << arch;
    EXPECT_NE(run.err.find("--cuda-arch"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(folder + "/x.pgc")) << arch;
  }
  std::filesystem::remove_all(folder);
}

} // namespace
} // namespace pgc::models
