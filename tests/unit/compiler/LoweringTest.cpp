// Lowering to a Plan: structure of the plan, and bit-identical results in
// process and from a .pgc file.
#include "compiler/Lowering/LowerToPlan.h"
#include "examples/Examples.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"

#include "mlir/Pass/PassManager.h"
#include "tests/unit/ScratchSpace.h"

#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>
#include <set>

namespace pgc {
namespace {

Plan lowerAttentionBlockWithGradients(bool fuse = false) {
  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  examples::ExampleOptions options;
  options.batch = 2;
  options.seqLen = 5;
  examples::buildAttentionBlock(module, options);
  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  if (fuse)
    pm.addPass(mlir::pg::createPgFuse());
  EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  return compiler::lowerToPlan(module.module());
}

TensorMap attentionInputs() {
  TensorMap inputs;
  for (const char *name : {"x", "target"}) {
    Tensor t(DType::F32, {2, 5, 32});
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, std::sin(0.01 * i * (name[0] == 'x' ? 3 : 7)));
    inputs[name] = t;
  }
  return inputs;
}

void expectBitIdentical(const TensorMap &a, const TensorMap &b,
                        const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (auto &[name, tensor] : a) {
    const Tensor &other = b.at(name);
    ASSERT_EQ(tensor.byteSize(), other.byteSize()) << what << " " << name;
    EXPECT_EQ(std::memcmp(tensor.raw(), other.raw(), tensor.byteSize()), 0)
        << what << " " << name;
  }
}

TEST(Lowering, EntryPointsShareParametersAndNameTheirValues) {
  Plan plan = lowerAttentionBlockWithGradients();
  ASSERT_EQ(plan.entryPoints.size(), 2u);
  const PlanEntryPoint *forward = plan.findEntryPoint("forward");
  const PlanEntryPoint *train = plan.findEntryPoint("train_step");
  ASSERT_TRUE(forward && train);
  EXPECT_EQ(forward->inputNames, (std::vector<std::string>{"x", "target"}));
  EXPECT_EQ(forward->outputNames, (std::vector<std::string>{"loss", "output"}));
  EXPECT_EQ(plan.parameters.size(), 9u); // one buffer per parameter, shared
  EXPECT_EQ(train->outputNames.size(), 2u + 9u);
  EXPECT_EQ(train->outputNames[2], "grad.layer.input_layernorm.weight");
  const PlanParameter *q = plan.findParameter("layer.self_attn.q_proj.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(plan.buffers[q->buffer].shape, (Shape{32, 32}));
  EXPECT_EQ(q->init, "normal(0.02)");
  // Steps carry the op's own attributes, not the passes' annotations.
  for (const PlanStep &step : train->steps) {
    EXPECT_FALSE(step.attributes.count("pg.backward")) << step.op;
    if (step.op == "matmul")
      EXPECT_EQ(step.text("acc_type"), "f32");
    if (step.op == "compare")
      EXPECT_EQ(step.text("predicate"), "le");
  }
  EXPECT_NE(train->steps.front().location.find("examples/AttentionBlock.cpp:"),
            std::string::npos);
}

TEST(Lowering, ArtifactOnDiskRunsBitIdenticallyToThePlanInProcess) {
  Plan plan = lowerAttentionBlockWithGradients();
  std::string path = pgc::unittest::uniqueScratchPath("attention.pgc");
  writeArtifact(plan, path);
  Session inProcess(plan), fromDisk(readArtifact(path));
  TensorMap inputs = attentionInputs();
  inProcess.initializeParameters(42);
  fromDisk.initializeParameters(42);
  for (const char *entry : {"forward", "train_step"})
    expectBitIdentical(inProcess.run(entry, inputs),
                       fromDisk.run(entry, inputs), entry);
}

// The steps pg-fuse takes (mlir::pg::isFusibleElementwise), in plan terms.
bool isElementwiseStep(const Plan &plan, const PlanStep &step) {
  if (step.op == "broadcast")
    return numElements(plan.buffers[step.inputs[0]].shape) == 1;
  for (const char *name :
       {"add", "sub", "mul", "div", "max", "min", "neg", "exp", "log", "sqrt",
        "rsqrt", "tanh", "gelu_tanh", "gelu_tanh_grad", "compare", "select",
        "cast", "dropout"})
    if (step.op == name)
      return true;
  return false;
}

TEST(Lowering, FusedPlanKeepsTheStepsAndRunsBitIdentically) {
  Plan open = lowerAttentionBlockWithGradients();
  Plan fused = lowerAttentionBlockWithGradients(/*fuse=*/true);
  ASSERT_EQ(open.entryPoints.size(), fused.entryPoints.size());
  EXPECT_TRUE(open.kernels.empty());
  size_t groups = 0;
  for (size_t e = 0; e < fused.entryPoints.size(); ++e) {
    const PlanEntryPoint &entry = fused.entryPoints[e];
    const std::vector<PlanStep> &steps = entry.steps;
    // The same steps in the same order: fusion only annotates.
    ASSERT_EQ(steps.size(), open.entryPoints[e].steps.size());
    for (size_t s = 0; s < steps.size(); ++s)
      EXPECT_EQ(steps[s].op, open.entryPoints[e].steps[s].op) << s;
    // Every elementwise step lies in exactly one group, nothing else does.
    std::vector<int> coverage(steps.size(), 0);
    for (size_t s = 0; s < steps.size(); ++s) {
      if (!steps[s].attributes.count(kStepKernel))
        continue;
      ++groups;
      int64_t count = steps[s].integer(kStepFusedSteps);
      std::set<uint32_t> written, args;
      for (int64_t i = 0; i < count; ++i) {
        ++coverage[s + i];
        written.insert(steps[s + i].outputs.begin(),
                       steps[s + i].outputs.end());
      }
      for (int64_t arg : steps[s].integers(kStepKernelArgs))
        args.insert(static_cast<uint32_t>(arg));
      // The group's stored results are exactly the buffers it writes that a
      // later step or the entry point's outputs read.
      std::set<uint32_t> needed;
      for (size_t later = s + count; later < steps.size(); ++later)
        for (uint32_t in : steps[later].inputs)
          if (written.count(in))
            needed.insert(in);
      for (uint32_t out : entry.outputs)
        if (written.count(out))
          needed.insert(out);
      std::set<uint32_t> storedResults;
      for (uint32_t arg : args)
        if (written.count(arg))
          storedResults.insert(arg);
      EXPECT_EQ(storedResults, needed) << entry.name << " step " << s;
      const PlanKernel &kernel =
          fused.kernels.at(steps[s].integer(kStepKernel));
      EXPECT_EQ(kernel.target, "cuda");
      EXPECT_NE(kernel.source.find(kernel.name), std::string::npos);
    }
    for (size_t s = 0; s < steps.size(); ++s)
      EXPECT_EQ(coverage[s], isElementwiseStep(fused, steps[s]) ? 1 : 0)
          << entry.name << " step " << s << " " << steps[s].op;
  }
  EXPECT_GT(groups, 10u);
  EXPECT_LE(fused.kernels.size(), groups);

  // The annotated plan survives the file and runs as the open one does.
  std::string path = pgc::unittest::uniqueScratchPath("attention-fused.pgc");
  writeArtifact(fused, path);
  Session a(open), b(readArtifact(path));
  a.initializeParameters(7);
  b.initializeParameters(7);
  TensorMap inputs = attentionInputs();
  for (const char *entry : {"forward", "train_step"})
    expectBitIdentical(a.run(entry, inputs), b.run(entry, inputs), entry);
}

TEST(Lowering, ValidationRejectsABadFusedGroup) {
  Plan fused = lowerAttentionBlockWithGradients(/*fuse=*/true);
  const std::vector<PlanStep> &steps = fused.entryPoints[0].steps;
  auto head = std::find_if(steps.begin(), steps.end(), [](const PlanStep &s) {
    return s.attributes.count(kStepKernel) > 0;
  });
  ASSERT_NE(head, steps.end());
  size_t index = head - steps.begin();
  auto expectRejected = [&](const char *attribute, int64_t value,
                            const std::string &needle) {
    Plan plan = fused;
    std::vector<int64_t> &ints =
        plan.entryPoints[0].steps[index].attributes[attribute].ints;
    if (std::string(attribute) == kStepKernelArgs)
      ints.push_back(value);
    else
      ints = {value};
    try {
      plan.validate("bad.pgc");
      ADD_FAILURE() << "accepted " << attribute << " " << value;
    } catch (const Error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << e.what();
    }
  };
  fused.validate("good.pgc");
  expectRejected(kStepKernel, static_cast<int64_t>(fused.kernels.size()),
                 "names kernel");
  expectRejected(kStepFusedSteps, 1 << 20, "fuses 1048576 steps");
  expectRejected(kStepFusedSteps, 0, "fuses 0 steps");
  expectRejected(kStepKernelArgs, 1 << 30,
                 "passes buffer 1073741824 to its kernel");
}

} // namespace
} // namespace pgc
