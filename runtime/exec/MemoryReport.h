// How much memory a plan needs and what fills it at the worst moment: the
// numbers behind "will this step fit on my GPU?" (pgc inspect prints them).
#pragma once

#include "runtime/artifact/Plan.h"
#include "runtime/exec/ArenaPlan.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// Bytes of the buffers that live across calls, by role.
struct PersistentBytes {
  size_t parameters = 0, trainableParameters = 0, gradients = 0,
         optimizerState = 0, constants = 0;
  size_t total() const {
    return parameters + gradients + optimizerState + constants;
  }
};
PersistentBytes persistentBytes(const Plan &plan);

/// One entry point's temporaries under an arena layout.
struct ArenaPeak {
  /// Bytes of the buffers alive together at the fullest step (each rounded
  /// up to the layout's alignment), and that step; the arena is at least
  /// this, and more where the layout leaves gaps.
  size_t liveBytes = 0;
  int64_t step = -1;
  /// The buffers alive at that step, largest first.
  std::vector<uint32_t> largest;
};
/// `alignment` must be the one `layout` was planned with.
ArenaPeak arenaPeak(const Plan &plan, const ArenaPlan &layout,
                    size_t alignment);

/// "1.5 GiB", "12.0 MiB", "512 B": three significant figures at most.
std::string formatBytes(size_t bytes);

} // namespace pgc
