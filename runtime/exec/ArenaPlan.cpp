// Lifetime analysis and offset assignment for an entry point's temporaries.
#include "runtime/exec/ArenaPlan.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <numeric>

namespace pgc {

bool isPersistentRole(BufferRole role) {
  return role == BufferRole::Parameter || role == BufferRole::OptimizerState ||
         role == BufferRole::Gradient || role == BufferRole::Constant;
}

namespace {

size_t alignUp(size_t bytes, size_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

struct Placed {
  int64_t first, last;
  size_t offset, size;
};

} // namespace

ArenaPlan planArena(const Plan &plan, const PlanEntryPoint &entry,
                    size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail("arena alignment {} is not a power of two", alignment);
  size_t count = plan.buffers.size();
  ArenaPlan result;
  result.offsets.assign(count, -1);
  result.firstStep.assign(count, -1);
  result.lastStep.assign(count, -1);
  std::vector<bool> bound(count, false);
  for (uint32_t input : entry.inputs)
    bound[input] = true;
  auto inArena = [&](uint32_t b) {
    return !isPersistentRole(plan.buffers[b].role) && !bound[b];
  };
  auto touch = [&](uint32_t b, int64_t step) {
    if (!inArena(b))
      return;
    if (result.firstStep[b] < 0)
      result.firstStep[b] = step;
    result.lastStep[b] = std::max(result.lastStep[b], step);
  };
  int64_t end = static_cast<int64_t>(entry.steps.size());
  for (int64_t s = 0; s < end; ++s) {
    // Outputs first: a buffer read before any write (never, in a valid
    // plan) would otherwise start at its read.
    for (uint32_t b : entry.steps[s].outputs)
      touch(b, s);
    for (uint32_t b : entry.steps[s].inputs)
      touch(b, s);
  }
  for (uint32_t b : entry.outputs) {
    touch(b, end);
    if (inArena(b) && result.firstStep[b] == end)
      result.firstStep[b] = 0; // an output no step writes
  }

  std::vector<uint32_t> order;
  for (uint32_t b = 0; b < count; ++b)
    if (result.firstStep[b] >= 0)
      order.push_back(b);
  auto sizeOf = [&](uint32_t b) {
    return alignUp(numElements(plan.buffers[b].shape) *
                       dtypeSize(plan.buffers[b].dtype),
                   alignment);
  };
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    size_t sx = sizeOf(x), sy = sizeOf(y);
    if (sx != sy)
      return sx > sy;
    return result.firstStep[x] < result.firstStep[y];
  });

  std::vector<Placed> placed;
  std::vector<const Placed *> live;
  for (uint32_t b : order) {
    Placed next{result.firstStep[b], result.lastStep[b], 0, sizeOf(b)};
    live.clear();
    for (const Placed &p : placed)
      if (p.first <= next.last && next.first <= p.last)
        live.push_back(&p);
    std::sort(live.begin(), live.end(), [](const Placed *x, const Placed *y) {
      return x->offset < y->offset;
    });
    // The smallest gap between overlapping buffers that fits, else after
    // the last of them.
    size_t cursor = 0, bestOffset = SIZE_MAX, bestWaste = SIZE_MAX;
    for (const Placed *p : live) {
      if (p->offset >= cursor && p->offset - cursor >= next.size &&
          p->offset - cursor - next.size < bestWaste) {
        bestWaste = p->offset - cursor - next.size;
        bestOffset = cursor;
      }
      cursor = std::max(cursor, p->offset + p->size);
    }
    next.offset = bestOffset != SIZE_MAX ? bestOffset : cursor;
    placed.push_back(next);
    result.offsets[b] = static_cast<int64_t>(next.offset);
    result.bytes = std::max(result.bytes, next.offset + next.size);
  }
  return result;
}

} // namespace pgc
