// A deterministic parallel-for: work is cut into fixed chunks whatever the
// thread count.
#pragma once

#include <cstdint>
#include <functional>

namespace pgc::cpu {

/// Threads the kernels use: setThreadCount's value if set, else the
/// PGC_CPU_THREADS environment variable, else the hardware's core count.
int threadCount();
/// Overrides the thread count (0 returns to the default). Results do not
/// depend on it; tests use it to prove that.
void setThreadCount(int count);

/// Calls body(begin, end) over [0, count) in chunks of `grain` items. The
/// chunk boundaries depend only on count and grain, never on the number of
/// threads, and each output must be produced inside one chunk, so the bits
/// of a result are the same with 1 thread or 64. The first exception thrown
/// by a chunk is rethrown after all threads have finished.
void parallelFor(int64_t count, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)> &body);

/// A grain that gives each chunk about `targetWork` units when one item
/// costs `workPerItem` units (at least one item per chunk).
int64_t grainFor(int64_t workPerItem, int64_t targetWork = 1 << 15);

} // namespace pgc::cpu
