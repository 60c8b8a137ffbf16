// Persistent bytes by role, and the fullest step of an entry point's arena.
#include "runtime/exec/MemoryReport.h"

#include <algorithm>
#include <fmt/format.h>

namespace pgc {

static size_t bufferBytes(const PlanBuffer &buffer) {
  return static_cast<size_t>(numElements(buffer.shape)) *
         dtypeSize(buffer.dtype);
}

PersistentBytes persistentBytes(const Plan &plan) {
  PersistentBytes bytes;
  for (const PlanBuffer &buffer : plan.buffers) {
    size_t size = bufferBytes(buffer);
    switch (buffer.role) {
    case BufferRole::Parameter:
      bytes.parameters += size;
      break;
    case BufferRole::Gradient:
      bytes.gradients += size;
      break;
    case BufferRole::OptimizerState:
      bytes.optimizerState += size;
      break;
    case BufferRole::Constant:
      bytes.constants += size;
      break;
    default:
      break;
    }
  }
  for (const PlanParameter &param : plan.parameters)
    if (param.trainable)
      bytes.trainableParameters += bufferBytes(plan.buffers[param.buffer]);
  return bytes;
}

ArenaPeak arenaPeak(const Plan &plan, const ArenaPlan &layout,
                    size_t alignment) {
  // Sizes added where a lifetime starts and taken away after it ends: a
  // running sum over the steps gives the bytes alive at each.
  int64_t steps = 0;
  for (size_t b = 0; b < layout.offsets.size(); ++b)
    if (layout.offsets[b] >= 0)
      steps = std::max(steps, layout.lastStep[b] + 1);
  std::vector<int64_t> delta(static_cast<size_t>(steps) + 1, 0);
  auto rounded = [&](uint32_t b) {
    size_t size = bufferBytes(plan.buffers[b]);
    return static_cast<int64_t>((size + alignment - 1) / alignment * alignment);
  };
  for (size_t b = 0; b < layout.offsets.size(); ++b)
    if (layout.offsets[b] >= 0) {
      delta[layout.firstStep[b]] += rounded(static_cast<uint32_t>(b));
      delta[layout.lastStep[b] + 1] -= rounded(static_cast<uint32_t>(b));
    }
  ArenaPeak peak;
  int64_t live = 0;
  for (int64_t s = 0; s < steps; ++s) {
    live += delta[s];
    if (live > static_cast<int64_t>(peak.liveBytes)) {
      peak.liveBytes = static_cast<size_t>(live);
      peak.step = s;
    }
  }
  if (peak.step < 0)
    return peak;
  for (size_t b = 0; b < layout.offsets.size(); ++b)
    if (layout.offsets[b] >= 0 && layout.firstStep[b] <= peak.step &&
        peak.step <= layout.lastStep[b])
      peak.largest.push_back(static_cast<uint32_t>(b));
  std::stable_sort(
      peak.largest.begin(), peak.largest.end(), [&](uint32_t x, uint32_t y) {
        return bufferBytes(plan.buffers[x]) > bufferBytes(plan.buffers[y]);
      });
  return peak;
}

std::string formatBytes(size_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0)
    return fmt::format("{} B", bytes);
  return fmt::format(value >= 100  ? "{:.0f} {}"
                     : value >= 10 ? "{:.1f} {}"
                                   : "{:.2f} {}",
                     value, units[unit]);
}

} // namespace pgc
