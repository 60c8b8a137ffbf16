// The executor's arena: buffers that are alive at the same step never share
// bytes, a step's outputs never overlap its inputs, and no kernel depends on
// its output starting zeroed (the arena holds the previous user's bytes).
#include "runtime/exec/ArenaPlan.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"

#include <cstring>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

StepAttribute ints(std::vector<int64_t> values) { return {values, {}, {}}; }
StepAttribute real(double value) { return {{}, {value}, {}}; }

// A plan over the kernels most likely to accumulate into their outputs
// (scatter_add, reductions, attention and norm gradients, matmul on both
// paths, cross-entropy's gradient), chained so that their temporaries reuse
// each other's memory.
Plan accumulatingPlan() {
  Plan plan;
  plan.producer = "test";
  auto add = [&](DType dtype, Shape shape, BufferRole role,
                 std::string name = "") {
    plan.buffers.push_back({name, dtype, shape, role, {}});
    return static_cast<uint32_t>(plan.buffers.size() - 1);
  };
  using R = BufferRole;
  const DType f32 = DType::F32;
  uint32_t x = add(f32, {2, 2, 16, 8}, R::Input, "x");
  uint32_t ids = add(DType::I64, {2, 16}, R::Input, "ids");
  uint32_t w = add(f32, {8}, R::Parameter, "w");
  uint32_t big = add(f32, {64, 64}, R::Parameter, "big");
  uint32_t bigIn = add(f32, {2, 64, 64}, R::Input, "big_in");
  uint32_t mask = add(DType::Bool, {2, 1, 16, 16}, R::Input, "mask");

  PlanEntryPoint entry;
  entry.name = "step";
  entry.inputs = {x, ids, bigIn, mask};
  entry.inputNames = {"x", "ids", "big_in", "mask"};
  auto step = [&](std::string op, std::vector<uint32_t> in,
                  std::vector<uint32_t> out,
                  std::map<std::string, StepAttribute> attributes = {}) {
    entry.steps.push_back({op, in, out, attributes, "test"});
  };
  // Fills the arena with values that later buffers reuse.
  uint32_t big2 = add(f32, {2, 64, 64}, R::Temporary);
  step("matmul", {bigIn, big}, {big2}, {{"transpose_rhs", ints({1})}});
  uint32_t big3 = add(f32, {2, 64, 64}, R::Temporary);
  step("matmul", {big2, big2}, {big3}, {{"transpose_lhs", ints({1})}});
  uint32_t big4 = add(f32, {2, 64, 64}, R::Temporary);
  step("exp", {big3}, {big4});
  uint32_t bigSum = add(f32, {64}, R::Output, "big_sum");
  step("reduce_sum", {big4}, {bigSum}, {{"axes", ints({0, 1})}});

  uint32_t sq = add(f32, {2, 2, 16, 8}, R::Temporary);
  step("mul", {x, x}, {sq});
  uint32_t dq = add(f32, {2, 2, 16, 8}, R::Temporary),
           dk = add(f32, {2, 2, 16, 8}, R::Temporary),
           dv = add(f32, {2, 2, 16, 8}, R::Temporary);
  step("attention_grad", {x, sq, x, mask, sq}, {dq, dk, dv},
       {{"scale", real(0.3)}});
  uint32_t flat = add(f32, {64, 8}, R::Temporary);
  step("reshape", {dk}, {flat});
  uint32_t ln = add(f32, {64, 8}, R::Temporary),
           lw = add(f32, {8}, R::Temporary), lb = add(f32, {8}, R::Temporary);
  step("layer_norm_grad", {flat, w, flat}, {ln, lw, lb},
       {{"epsilon", real(1e-6)}});
  uint32_t table = add(f32, {8, 8}, R::Temporary);
  uint32_t flatIds = add(DType::I64, {32}, R::Temporary);
  step("reshape", {ids}, {flatIds});
  uint32_t rows = add(f32, {32, 8}, R::Temporary);
  step("slice", {ln}, {rows},
       {{"starts", ints({0, 0})},
        {"limits", ints({32, 8})},
        {"strides", ints({1, 1})}});
  step("scatter_add", {flatIds, rows}, {table});
  uint32_t logits = add(f32, {32, 8}, R::Temporary);
  step("gather", {table, flatIds}, {logits});
  uint32_t dloss = add(f32, {}, R::Temporary);
  step("reduce_sum", {lw}, {dloss}, {{"axes", ints({0})}});
  uint32_t dlogits = add(f32, {32, 8}, R::Temporary);
  step("cross_entropy_grad", {logits, flatIds, dloss}, {dlogits},
       {{"ignore_index", ints({5})}});
  uint32_t half = add(DType::BF16, {32, 8}, R::Temporary);
  step("cast", {dlogits}, {half});
  uint32_t out = add(DType::BF16, {8, 32}, R::Output, "out");
  step("transpose", {half}, {out}, {{"perm", ints({1, 0})}});
  uint32_t sums = add(f32, {8}, R::Output, "sums");
  step("add", {lb, lw}, {sums});
  uint32_t dqSum = add(f32, {2, 16}, R::Output, "dq_sum");
  step("reduce_sum", {dq}, {dqSum}, {{"axes", ints({1, 3})}});
  uint32_t dvSum = add(f32, {8}, R::Output, "dv_sum");
  step("reduce_sum", {dv}, {dvSum}, {{"axes", ints({0, 1, 2})}});
  entry.outputs = {bigSum, out, sums, dqSum, dvSum};
  entry.outputNames = {"big_sum", "out", "sums", "dq_sum", "dv_sum"};
  plan.parameters = {{"w", w, true, "normal(1.0)", std::nullopt},
                     {"big", big, true, "normal(0.05)", std::nullopt}};
  plan.entryPoints.push_back(entry);
  plan.validate("test plan");
  return plan;
}

TensorMap inputsFor(const Plan &plan) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> uniform(-1, 1);
  TensorMap inputs;
  const PlanEntryPoint &entry = plan.entryPoints[0];
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const PlanBuffer &buffer = plan.buffers[entry.inputs[i]];
    Tensor t(buffer.dtype, buffer.shape);
    for (int64_t e = 0; e < t.numel(); ++e)
      t.set(e, isFloat(buffer.dtype) ? uniform(rng) : double((e * 5) % 8));
    // A causal mask: every query row keeps at least its own key.
    if (buffer.dtype == DType::Bool)
      for (int64_t e = 0; e < t.numel(); ++e)
        t.set(e, e % 16 <= (e / 16) % 16 ? 1.0 : 0.0);
    inputs[entry.inputNames[i]] = t;
  }
  return inputs;
}

bool sameBytes(const Tensor &a, const Tensor &b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

TEST(ExecArena, LiveBuffersNeverShareBytes) {
  Plan plan = accumulatingPlan();
  const PlanEntryPoint &entry = plan.entryPoints[0];
  ArenaPlan arena = planArena(plan, entry);
  size_t total = 0;
  auto range = [&](uint32_t b) {
    size_t begin = static_cast<size_t>(arena.offsets[b]);
    return std::make_pair(begin, begin + numElements(plan.buffers[b].shape) *
                                             dtypeSize(plan.buffers[b].dtype));
  };
  for (uint32_t a = 0; a < plan.buffers.size(); ++a) {
    bool placed = arena.offsets[a] >= 0;
    bool expected = !isPersistentRole(plan.buffers[a].role) &&
                    std::find(entry.inputs.begin(), entry.inputs.end(), a) ==
                        entry.inputs.end();
    EXPECT_EQ(placed, expected) << "buffer " << a;
    if (!placed)
      continue;
    EXPECT_EQ(arena.offsets[a] % ArenaPlan::kAlignment, 0) << "buffer " << a;
    EXPECT_LE(range(a).second, arena.bytes);
    total += range(a).second - range(a).first;
    for (uint32_t b = a + 1; b < plan.buffers.size(); ++b) {
      if (arena.offsets[b] < 0 || arena.lastStep[a] < arena.firstStep[b] ||
          arena.lastStep[b] < arena.firstStep[a])
        continue;
      bool disjoint = range(a).second <= range(b).first ||
                      range(b).second <= range(a).first;
      EXPECT_TRUE(disjoint) << "buffers " << a << " and " << b;
    }
  }
  // Outputs live to the end; the big temporaries are reused.
  for (uint32_t output : entry.outputs)
    EXPECT_EQ(arena.lastStep[output], static_cast<int64_t>(entry.steps.size()));
  EXPECT_LT(arena.bytes, total);
}

// The GPU executor asks for 256-byte offsets (cuBLASLt's assumption): every
// offset honours the alignment asked for, live buffers stay disjoint, and a
// bad alignment is refused.
TEST(ExecArena, HonoursALargerAlignment) {
  Plan plan = accumulatingPlan();
  const PlanEntryPoint &entry = plan.entryPoints[0];
  ArenaPlan arena = planArena(plan, entry, 256);
  for (uint32_t a = 0; a < plan.buffers.size(); ++a) {
    if (arena.offsets[a] < 0)
      continue;
    EXPECT_EQ(arena.offsets[a] % 256, 0) << "buffer " << a;
    size_t endA =
        static_cast<size_t>(arena.offsets[a]) +
        numElements(plan.buffers[a].shape) * dtypeSize(plan.buffers[a].dtype);
    EXPECT_LE(endA, arena.bytes);
    for (uint32_t b = a + 1; b < plan.buffers.size(); ++b) {
      if (arena.offsets[b] < 0 || arena.lastStep[a] < arena.firstStep[b] ||
          arena.lastStep[b] < arena.firstStep[a])
        continue;
      size_t endB =
          static_cast<size_t>(arena.offsets[b]) +
          numElements(plan.buffers[b].shape) * dtypeSize(plan.buffers[b].dtype);
      EXPECT_TRUE(endA <= static_cast<size_t>(arena.offsets[b]) ||
                  endB <= static_cast<size_t>(arena.offsets[a]))
          << "buffers " << a << " and " << b;
    }
  }
  EXPECT_GE(arena.bytes, planArena(plan, entry).bytes);
  EXPECT_THROW(planArena(plan, entry, 96), Error);
  EXPECT_THROW(planArena(plan, entry, 0), Error);
}

TEST(ExecArena, KernelsWriteEveryElementOfTheirOutputs) {
  Plan plan = accumulatingPlan();
  TensorMap inputs = inputsFor(plan);
  Session clean(plan), poisoned(plan);
  clean.initializeParameters(3);
  poisoned.initializeParameters(3);
  poisoned.setPoisonTemporaries(true);
  // Twice each: the second call finds the first call's bytes in the arena.
  for (int call = 0; call < 2; ++call) {
    TensorMap expected = clean.run("step", inputs);
    TensorMap got = poisoned.run("step", inputs);
    for (const auto &[name, tensor] : expected) {
      EXPECT_TRUE(sameBytes(tensor, got.at(name))) << name << ", call " << call;
      for (int64_t i = 0; i < tensor.numel(); ++i)
        ASSERT_FALSE(std::isnan(tensor.at(i))) << name << "[" << i << "]";
    }
  }
}

TEST(ExecArena, OutputsAreNotOverwrittenByTheNextCall) {
  Plan plan = accumulatingPlan();
  TensorMap inputs = inputsFor(plan);
  Session session(plan);
  session.initializeParameters(3);
  TensorMap first = session.run("step", inputs);
  Tensor kept = first.at("out").clone();
  TensorMap other = inputs;
  other.at("x") = Tensor(DType::F32, inputs.at("x").shape());
  session.run("step", other);
  EXPECT_TRUE(sameBytes(first.at("out"), kept));
}

} // namespace
} // namespace pgc
