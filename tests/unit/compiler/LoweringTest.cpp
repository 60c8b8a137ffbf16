// Lowering to a Plan: structure of the plan, and bit-identical results in process and from a .pgc file.
#include "compiler/Lowering/LowerToPlan.h"
#include "examples/Examples.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"

#include "mlir/Pass/PassManager.h"

#include <cstring>
#include <gtest/gtest.h>

namespace pgc {
namespace {

Plan lowerAttentionBlockWithGradients() {
  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  examples::ExampleOptions options;
  options.batch = 2;
  options.seqLen = 5;
  examples::buildAttentionBlock(module, options);
  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  return compiler::lowerToPlan(module.module());
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
  std::string path = ::testing::TempDir() + "/attention.pgc";
  writeArtifact(plan, path);
  Session inProcess(plan), fromDisk(readArtifact(path));
  TensorMap inputs;
  for (const char *name : {"x", "target"}) {
    Tensor t(DType::F32, {2, 5, 32});
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, std::sin(0.01 * i * (name[0] == 'x' ? 3 : 7)));
    inputs[name] = t;
  }
  inProcess.initializeParameters(42);
  fromDisk.initializeParameters(42);
  for (const char *entry : {"forward", "train_step"}) {
    TensorMap a = inProcess.run(entry, inputs), b = fromDisk.run(entry, inputs);
    ASSERT_EQ(a.size(), b.size());
    for (auto &[name, tensor] : a) {
      const Tensor &other = b.at(name);
      ASSERT_EQ(tensor.byteSize(), other.byteSize()) << name;
      EXPECT_EQ(std::memcmp(tensor.raw(), other.raw(), tensor.byteSize()), 0)
          << entry << " " << name;
    }
  }
}

} // namespace
} // namespace pgc
