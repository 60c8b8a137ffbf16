// Runs fixed chunks of a loop on a few std::threads; chunking never depends on
// thread count.
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pgc::cpu {
namespace {

std::atomic<int> threadOverride{0};

int defaultThreadCount() {
  if (const char *env = std::getenv("PGC_CPU_THREADS")) {
    int fromEnv = std::atoi(env);
    if (fromEnv > 0)
      return fromEnv;
  }
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware ? static_cast<int>(hardware) : 1;
}

} // namespace

int threadCount() {
  int forced = threadOverride.load();
  return forced > 0 ? forced : defaultThreadCount();
}

void setThreadCount(int count) { threadOverride.store(std::max(count, 0)); }

int64_t grainFor(int64_t workPerItem, int64_t targetWork) {
  return std::max<int64_t>(1, targetWork / std::max<int64_t>(workPerItem, 1));
}

void parallelFor(int64_t count, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &body) {
  if (count <= 0)
    return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = (count + grain - 1) / grain;
  int64_t workers = std::min<int64_t>(threadCount(), chunks);
  if (workers <= 1) {
    for (int64_t c = 0; c < chunks; ++c)
      body(c * grain, std::min(count, (c + 1) * grain));
    return;
  }
  std::atomic<int64_t> nextChunk{0};
  std::exception_ptr firstError;
  std::mutex errorMutex;
  auto work = [&] {
    for (int64_t c = nextChunk++; c < chunks; c = nextChunk++) {
      try {
        body(c * grain, std::min(count, (c + 1) * grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!firstError)
          firstError = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers - 1);
  for (int64_t t = 1; t < workers; ++t)
    helpers.emplace_back(work);
  work();
  for (std::thread &helper : helpers)
    helper.join();
  if (firstError)
    std::rethrow_exception(firstError);
}

} // namespace pgc::cpu
