// The GPU executor against the CPU one: hand-built plans for matmul and NF4
// dequantization, and whole artifacts compiled by `pgc compile` on another
// machine (scripts/gpu-check --pack puts them in the carry) run step for step
// through forward, train_step and apply_update.
#include "GpuFixture.h"

#include "runtime/cuda/exec/CudaSession.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/exec/Session.h"
#include "runtime/quant/Nf4.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace pgc::cuda {
namespace {

using GpuSession = GpuTest;

Tensor randomTensor(DType dtype, const Shape &shape, uint32_t seed,
                    double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, isFloat(dtype) ? normal(rng) : static_cast<double>(rng() % 7));
  return t;
}

/// The largest |cpu - gpu| / (|cpu| + floor) over the elements; NaN where
/// only one side is NaN or an integer differs.
double worstRelative(const Tensor &cpu, const Tensor &gpu, double floor) {
  if (cpu.dtype() != gpu.dtype() || cpu.shape() != gpu.shape())
    return NAN;
  double worst = 0;
  for (int64_t i = 0; i < cpu.numel(); ++i) {
    double x = cpu.at(i), y = gpu.at(i);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y))
        return NAN;
      continue;
    }
    if (!isFloat(cpu.dtype()) && x != y)
      return NAN;
    worst = std::max(worst, std::fabs(x - y) / (std::fabs(x) + floor));
  }
  return worst;
}

PlanBuffer buffer(DType dtype, Shape shape, BufferRole role) {
  PlanBuffer b;
  b.dtype = dtype;
  b.shape = std::move(shape);
  b.role = role;
  return b;
}

/// One entry point "run" with one step `op` over fresh input buffers.
Plan singleStepPlan(const std::string &op, const std::vector<PlanBuffer> &ins,
                    const PlanBuffer &out,
                    const std::map<std::string, std::vector<int64_t>> &ints) {
  Plan plan;
  PlanEntryPoint entry;
  entry.name = "run";
  PlanStep step;
  step.op = op;
  for (size_t i = 0; i < ins.size(); ++i) {
    plan.buffers.push_back(ins[i]);
    uint32_t index = static_cast<uint32_t>(plan.buffers.size() - 1);
    step.inputs.push_back(index);
    if (ins[i].role == BufferRole::Input) {
      entry.inputs.push_back(index);
      entry.inputNames.push_back("in" + std::to_string(i));
    }
  }
  plan.buffers.push_back(out);
  step.outputs.push_back(static_cast<uint32_t>(plan.buffers.size() - 1));
  for (const auto &[name, values] : ints)
    step.attributes[name].ints = values;
  entry.outputs = step.outputs;
  entry.outputNames = {"out"};
  entry.steps.push_back(step);
  plan.entryPoints.push_back(entry);
  return plan;
}

// Needs no device. A fused group is one kernel: it reads every input and
// writes every output element by element, so none of its buffers may share
// bytes, even an input last read by the group's first step and an output of
// its last step (disjoint lifetimes step by step, which planArena alone
// would overlay: here `c` would take `a`'s offset, and the kernel's writes
// of c would overwrite a before other threads read it).
TEST(CudaSessionArena, BuffersOfAFusedGroupNeverShareMemory) {
  Plan plan;
  auto add = [&](BufferRole role) {
    plan.buffers.push_back(buffer(DType::F32, {64}, role));
    return static_cast<uint32_t>(plan.buffers.size() - 1);
  };
  uint32_t in = add(BufferRole::Input), a = add(BufferRole::Temporary),
           t = add(BufferRole::Temporary), c = add(BufferRole::Temporary),
           d = add(BufferRole::Temporary);
  auto step = [](const char *op, std::vector<uint32_t> ins, uint32_t out) {
    PlanStep s;
    s.op = op;
    s.inputs = std::move(ins);
    s.outputs = {out};
    return s;
  };
  PlanEntryPoint entry;
  entry.name = "run";
  entry.inputs = {in};
  entry.inputNames = {"in"};
  entry.steps = {step("neg", {in}, a), step("exp", {a}, t), step("neg", {t}, c),
                 step("neg", {c}, d)};
  // Steps 1-2 are one group: t is its intermediate, a its input, c its
  // output.
  entry.steps[1].attributes[kStepKernel].ints = {0};
  entry.steps[1].attributes[kStepFusedSteps].ints = {2};
  entry.steps[1].attributes[kStepKernelArgs].ints = {a, c};
  entry.outputs = {d};
  entry.outputNames = {"out"};
  plan.entryPoints = {entry};

  ArenaPlan layout = planCudaArena(plan, entry);
  for (uint32_t x : {a, t, c}) {
    ASSERT_GE(layout.offsets[x], 0) << x;
    EXPECT_EQ(layout.offsets[x] % 256, 0) << x;
  }
  for (uint32_t x : {a, t, c})
    for (uint32_t y : {a, t, c})
      if (x < y)
        EXPECT_TRUE(layout.offsets[x] + 256 <= layout.offsets[y] ||
                    layout.offsets[y] + 256 <= layout.offsets[x])
            << "buffers " << x << " and " << y << " overlap";
}

TEST_F(GpuSession, MatmulMatchesTheCpuWithinSummationError) {
  struct Case {
    DType dtype, outDtype;
    Shape a, b, c;
    bool transA, transB;
  };
  // Linear layers (shared B, transposed weight), attention-like batches, and
  // the transposes autodiff makes.
  for (const Case &c : std::vector<Case>{{DType::F32,
                                          DType::F32,
                                          {2, 37, 64},
                                          {48, 64},
                                          {2, 37, 48},
                                          false,
                                          true},
                                         {DType::BF16,
                                          DType::BF16,
                                          {3, 5, 33, 16},
                                          {3, 5, 16, 40},
                                          {3, 5, 33, 40},
                                          false,
                                          false},
                                         {DType::BF16,
                                          DType::F32,
                                          {130, 70},
                                          {130, 90},
                                          {70, 90},
                                          true,
                                          false},
                                         {DType::F32,
                                          DType::F32,
                                          {4, 24, 8},
                                          {24, 8},
                                          {4, 8, 8},
                                          true,
                                          false}}) {
    Plan plan = singleStepPlan(
        "matmul",
        {buffer(c.dtype, c.a, BufferRole::Input),
         buffer(c.dtype, c.b, BufferRole::Input)},
        buffer(c.outDtype, c.c, BufferRole::Temporary),
        {{"transpose_lhs", {c.transA}}, {"transpose_rhs", {c.transB}}});
    TensorMap inputs{{"in0", randomTensor(c.dtype, c.a, 1)},
                     {"in1", randomTensor(c.dtype, c.b, 2)}};
    Session cpu(plan);
    TensorMap expected = cpu.run("run", inputs);
    CudaSession gpu(context(), plan, cache());
    TensorMap got = gpu.run("run", inputs);
    // Both sum K products of operands ~N(0,1) in f32, in different orders:
    // the difference is a few f32 ulps of sqrt(K); bf16 results also round
    // once to 8 bits, which may fall on either side.
    double bound = c.outDtype == DType::BF16 ? 1.6e-2 : 1e-5;
    double worst = worstRelative(expected.at("out"), got.at("out"), 1.0);
    EXPECT_LE(worst, bound) << formatShape(c.a) << " x " << formatShape(c.b);
    std::printf("matmul %s x %s: worst %.3g (bound %.3g)\n",
                formatShape(c.a).c_str(), formatShape(c.b).c_str(), worst,
                bound);
  }
}

TEST_F(GpuSession, Nf4DequantizationOfAParameterIsBitExact) {
  for (bool doubleQuant : {true, false}) {
    Shape shape{96, 200};
    PlanParameter param;
    param.name = "w";
    param.nf4 = Nf4Spec{64, doubleQuant, shape};
    Plan plan;
    int64_t bytes = Nf4Layout{numElements(shape), 64, doubleQuant}.totalBytes();
    plan.buffers.push_back(buffer(DType::U8, {bytes}, BufferRole::Parameter));
    plan.buffers.push_back(buffer(DType::BF16, shape, BufferRole::Temporary));
    param.buffer = 0;
    plan.parameters.push_back(param);
    PlanEntryPoint entry;
    entry.name = "run";
    PlanStep step;
    step.op = "dequant_nf4";
    step.inputs = {0};
    step.outputs = {1};
    step.attributes["block_size"].ints = {64};
    step.attributes["double_quant"].ints = {doubleQuant};
    entry.steps = {step};
    entry.outputs = {1};
    entry.outputNames = {"out"};
    plan.entryPoints = {entry};

    Session cpu(plan);
    cpu.setParameter("w", randomTensor(DType::F32, shape, 3, 0.02));
    TensorMap expected = cpu.run("run", {});
    CudaSession gpu(context(), plan, cache());
    gpu.uploadState(cpu);
    TensorMap got = gpu.run("run", {});
    EXPECT_EQ(std::memcmp(expected.at("out").raw(), got.at("out").raw(),
                          expected.at("out").byteSize()),
              0)
        << "double quant " << doubleQuant;
  }
}

/// ||cpu - gpu|| / ||cpu|| over all elements (the norm of the difference,
/// 0 when both are zero); NaN when the NaNs or integers disagree.
double relativeNormError(const Tensor &cpu, const Tensor &gpu) {
  if (cpu.dtype() != gpu.dtype() || cpu.shape() != gpu.shape())
    return NAN;
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < cpu.numel(); ++i) {
    double x = cpu.at(i), y = gpu.at(i);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y))
        return NAN;
      continue;
    }
    if (!isFloat(cpu.dtype()) && x != y)
      return NAN;
    diff += (x - y) * (x - y);
    norm += x * x;
  }
  return diff == 0 ? 0 : std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

/// Whether the plan's GEMMs produce bf16 (a bf16 compute dtype).
bool computesInBf16(const Plan &plan) {
  for (const PlanEntryPoint &entry : plan.entryPoints)
    for (const PlanStep &step : entry.steps)
      if (step.op == "matmul" &&
          plan.buffers[step.outputs[0]].dtype == DType::BF16)
        return true;
  return false;
}

/// Inputs for an entry point: the optimizer's scalars by name, random
/// values for the rest (the same on both sides).
TensorMap inputsFor(const Plan &plan, const PlanEntryPoint &entry,
                    uint32_t seed) {
  const std::map<std::string, double> scalars = {{"lr", 1e-3},
                                                 {"weight_decay", 0.01},
                                                 {"beta1", 0.9},
                                                 {"beta2", 0.999},
                                                 {"eps", 1e-8},
                                                 {"bias_correction1", 0.1},
                                                 {"bias_correction2", 0.001},
                                                 {"max_grad_norm", 1.0},
                                                 {"loss_scale", 1.0}};
  TensorMap inputs;
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const PlanBuffer &b = plan.buffers[entry.inputs[i]];
    auto scalar = scalars.find(entry.inputNames[i]);
    if (scalar != scalars.end()) {
      Tensor t(b.dtype, b.shape);
      for (int64_t k = 0; k < t.numel(); ++k)
        t.set(k, scalar->second);
      inputs[entry.inputNames[i]] = t;
    } else {
      inputs[entry.inputNames[i]] =
          randomTensor(b.dtype, b.shape, seed + static_cast<uint32_t>(i));
    }
  }
  return inputs;
}

TEST_F(GpuSession, CarriedArtifactsTrainLikeTheCpu) {
  const char *folder = std::getenv("PGC_TEST_ARTIFACT_DIR");
  if (!folder || !std::filesystem::is_directory(folder))
    GTEST_SKIP() << "PGC_TEST_ARTIFACT_DIR names no folder of .pgc artifacts "
                    "(scripts/gpu-check sets it)";
  int ran = 0;
  for (const auto &file : std::filesystem::directory_iterator(folder)) {
    if (file.path().extension() != ".pgc")
      continue;
    std::string name = file.path().filename().string();
    Plan plan = readArtifact(file.path().string());
    std::vector<std::string> missing = stepsWithoutCudaKernel(plan);
    if (!missing.empty()) {
      std::printf("%s: not run, %zu steps without a GPU kernel (first: %s)\n",
                  name.c_str(), missing.size(), missing.front().c_str());
      continue;
    }
    // GEMMs and row sums add in other orders than the CPU: f32 results
    // differ in the last bits, bf16 ones by a bf16 step here and there, which
    // three AdamW updates carry into the parameters. Compared as relative
    // norms of each output, so that values near zero do not dominate.
    bool bf16 = computesInBf16(plan);
    double bound = bf16 ? 3e-2 : 1e-4;
    Session cpu(plan);
    cpu.initializeParameters(11);
    CudaSession gpu(context(), plan, cache());
    gpu.uploadState(cpu);
    std::vector<std::string> order;
    for (const char *entry : {"train_step", "apply_update"})
      if (plan.findEntryPoint(entry))
        order.push_back(entry);
    std::vector<std::string> calls;
    for (int round = 0; round < 3; ++round)
      calls.insert(calls.end(), order.begin(), order.end());
    if (plan.findEntryPoint("forward"))
      calls.push_back("forward");
    double worstOverall = 0;
    for (size_t call = 0; call < calls.size(); ++call) {
      const PlanEntryPoint &entry = *plan.findEntryPoint(calls[call]);
      TensorMap inputs = inputsFor(plan, entry, 100 + uint32_t(call));
      TensorMap expected = cpu.run(entry.name, inputs);
      TensorMap got = gpu.run(entry.name, inputs);
      for (const auto &[output, value] : expected) {
        double worst = relativeNormError(value, got.at(output));
        worstOverall = std::max(worstOverall, worst);
        EXPECT_LE(worst, bound) << name << " " << entry.name << " call " << call
                                << " output " << output;
      }
    }
    // downloadState brings back what the steps wrote (trainable parameters,
    // gradients, AdamW moments) into a session initialised as `cpu` was; the
    // frozen weights it skips must then be the CPU's too.
    Session mirror(plan);
    mirror.initializeParameters(11);
    gpu.downloadState(mirror);
    for (const PlanParameter &param : plan.parameters) {
      double worst = relativeNormError(cpu.parameter(param.name),
                                       mirror.parameter(param.name));
      EXPECT_LE(worst, bound) << name << " parameter " << param.name;
    }
    for (const std::string &state : cpu.stateNames())
      EXPECT_LE(relativeNormError(cpu.state(state), mirror.state(state)), bound)
          << name << " state " << state;
    // Only the outputs asked for come back (pgc run asks train_step for its
    // loss alone), with the bytes of a full run: forward changes no state.
    if (const PlanEntryPoint *forward = plan.findEntryPoint("forward")) {
      TensorMap inputs = inputsFor(plan, *forward, 500);
      TensorMap all = gpu.run("forward", inputs);
      const std::string &first = forward->outputNames.front();
      TensorMap one = gpu.run("forward", inputs, {first});
      ASSERT_EQ(one.size(), 1u) << name;
      ASSERT_EQ(one.at(first).byteSize(), all.at(first).byteSize()) << name;
      EXPECT_EQ(0, std::memcmp(one.at(first).raw(), all.at(first).raw(),
                               all.at(first).byteSize()))
          << name;
      EXPECT_THROW(gpu.run("forward", inputs, {"no_such_output"}), Error);
    }
    std::printf("%s: %zu calls, worst relative norm difference %.3g (bound "
                "%.3g), "
                "%lld kernels from CUBINs, %lld compiled\n",
                name.c_str(), calls.size(), worstOverall, bound,
                static_cast<long long>(gpu.kernelsFromArtifact()),
                static_cast<long long>(gpu.kernelsFromSource()));
    ++ran;
  }
  EXPECT_GT(ran, 0) << "no artifact in " << folder << " runs on the GPU yet";
}

} // namespace
} // namespace pgc::cuda
