// Where an entry point's temporaries live: offsets in one arena, reused by
// every call, with buffers whose lifetimes do not overlap sharing memory.
#pragma once

#include "runtime/artifact/Plan.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pgc {

/// Parameters, optimizer state, gradients and constants live across calls in
/// the Session; every other buffer lives only during one call.
bool isPersistentRole(BufferRole role);

/// The arena of one entry point.
struct ArenaPlan {
  /// Every offset is a multiple of this by default (a cache line, and
  /// enough for any dtype and for vector loads).
  static constexpr size_t kAlignment = 64;
  /// Bytes the arena needs.
  size_t bytes = 0;
  /// Per plan buffer: its offset in the arena, or -1 when it has no place
  /// there (persistent buffers, the entry's inputs, which are bound to the
  /// caller's tensors, and buffers the entry does not touch).
  std::vector<int64_t> offsets;
  /// Per plan buffer: the first and last step that uses it (entry outputs
  /// last until the end, steps.size()); -1 when not placed.
  std::vector<int64_t> firstStep, lastStep;
};

/// Places the non-persistent buffers that the steps of `entry` write (and
/// any they read without a writer) so that two buffers share bytes only
/// when no step lies in both lifetimes. A step's outputs therefore never
/// share memory with its inputs, and kernels may not assume zeroed outputs
/// (the bytes hold whatever the last user left). Greedy by size, largest
/// first, each at the lowest-waste gap among the buffers it overlaps.
/// Every offset and size is a multiple of `alignment` (a power of two; the
/// GPU executor asks for 256 bytes, what cuBLASLt's heuristics assume).
ArenaPlan planArena(const Plan &plan, const PlanEntryPoint &entry,
                    size_t alignment = ArenaPlan::kAlignment);

} // namespace pgc
