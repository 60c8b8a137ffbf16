// The memory report: persistent bytes by role, and the fullest step of an
// arena against a naive count of the buffers alive at every step.
#include "runtime/exec/MemoryReport.h"
#include "runtime/exec/ArenaPlan.h"

#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

size_t bytesOf(const PlanBuffer &b) {
  return static_cast<size_t>(numElements(b.shape)) * dtypeSize(b.dtype);
}

// A random chain: each step reads one or two earlier values (or the input)
// and writes a new one of random size, so lifetimes overlap irregularly.
Plan randomPlan(uint32_t seed) {
  std::mt19937 rng(seed);
  Plan plan;
  plan.producer = "test";
  auto add = [&](Shape shape, BufferRole role, DType dtype = DType::F32) {
    plan.buffers.push_back({"", dtype, shape, role, {}});
    return static_cast<uint32_t>(plan.buffers.size() - 1);
  };
  uint32_t in = add({7, 3}, BufferRole::Input);
  add({5, 5}, BufferRole::Parameter);
  add({4}, BufferRole::Gradient);
  add({2, 4}, BufferRole::OptimizerState, DType::F64);
  add({3}, BufferRole::Constant, DType::I64);
  PlanEntryPoint entry;
  entry.name = "run";
  entry.inputs = {in};
  entry.inputNames = {"x"};
  std::vector<uint32_t> values = {in};
  for (int s = 0; s < 40; ++s) {
    uint32_t out = add({int64_t(1 + rng() % 300)}, BufferRole::Temporary);
    std::vector<uint32_t> ins = {values[rng() % values.size()],
                                 values[rng() % values.size()]};
    entry.steps.push_back({"add", ins, {out}, {}, ""});
    values.push_back(out);
  }
  entry.outputs = {values.back()};
  entry.outputNames = {"y"};
  plan.entryPoints = {entry};
  return plan;
}

TEST(MemoryReport, PersistentBytesAreSummedByRole) {
  Plan plan = randomPlan(1);
  plan.parameters.push_back({"w", 1, true, "", std::nullopt});
  PersistentBytes bytes = persistentBytes(plan);
  EXPECT_EQ(bytes.parameters, 25u * 4);
  EXPECT_EQ(bytes.trainableParameters, 25u * 4);
  EXPECT_EQ(bytes.gradients, 4u * 4);
  EXPECT_EQ(bytes.optimizerState, 8u * 8);
  EXPECT_EQ(bytes.constants, 3u * 8);
  EXPECT_EQ(bytes.total(), 100u + 16 + 64 + 24);
}

TEST(MemoryReport, PeakIsTheFullestStepOfANaiveCount) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    Plan plan = randomPlan(seed);
    const PlanEntryPoint &entry = plan.entryPoints[0];
    for (size_t alignment : {size_t(64), size_t(256)}) {
      ArenaPlan layout = planArena(plan, entry, alignment);
      ArenaPeak peak = arenaPeak(plan, layout, alignment);
      // Naive: at every step, sum the aligned sizes of the placed buffers
      // that the step lies inside.
      size_t best = 0;
      int64_t bestStep = -1;
      for (int64_t s = 0; s <= static_cast<int64_t>(entry.steps.size()); ++s) {
        size_t live = 0;
        for (size_t b = 0; b < plan.buffers.size(); ++b)
          if (layout.offsets[b] >= 0 && layout.firstStep[b] <= s &&
              s <= layout.lastStep[b])
            live += (bytesOf(plan.buffers[b]) + alignment - 1) / alignment *
                    alignment;
        if (live > best) {
          best = live;
          bestStep = s;
        }
      }
      EXPECT_EQ(peak.liveBytes, best) << "seed " << seed;
      EXPECT_EQ(peak.step, bestStep) << "seed " << seed;
      EXPECT_LE(peak.liveBytes, layout.bytes) << "seed " << seed;
      for (size_t i = 1; i < peak.largest.size(); ++i)
        EXPECT_GE(bytesOf(plan.buffers[peak.largest[i - 1]]),
                  bytesOf(plan.buffers[peak.largest[i]]));
    }
  }
}

TEST(MemoryReport, BytesAreFormattedInBinaryUnits) {
  EXPECT_EQ(formatBytes(0), "0 B");
  EXPECT_EQ(formatBytes(1023), "1023 B");
  EXPECT_EQ(formatBytes(1024), "1.00 KiB");
  EXPECT_EQ(formatBytes(45 * 1024 * 1024 + 512 * 1024), "45.5 MiB");
  EXPECT_EQ(formatBytes(size_t(4745) * 1024 * 1024), "4.63 GiB");
  EXPECT_EQ(formatBytes(size_t(300) * 1024 * 1024 * 1024), "300 GiB");
}

} // namespace
} // namespace pgc
