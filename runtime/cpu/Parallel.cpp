// Runs fixed chunks of a loop on a small pool of persistent threads; chunking
// never depends on thread count.
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
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

// One parallelFor call: the chunks are claimed from `nextChunk` by the
// caller and the helpers alike.
struct Job {
  int64_t count, grain, chunks;
  const std::function<void(int64_t, int64_t)> *body;
  std::atomic<int64_t> nextChunk{0};
  std::exception_ptr firstError;
  std::mutex errorMutex;

  void runChunks() {
    for (int64_t c = nextChunk++; c < chunks; c = nextChunk++) {
      try {
        (*body)(c * grain, std::min(count, (c + 1) * grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!firstError)
          firstError = std::current_exception();
      }
    }
  }
};

// Set on pool threads and on a caller while it runs a job: a parallelFor
// nested inside a chunk runs sequentially instead of waiting on the pool.
thread_local bool insideParallelFor = false;

// Threads are started once and sleep between jobs: a step of the CPU
// executor runs thousands of small kernels, and starting threads for each
// cost more than many of the kernels themselves.
class ThreadPool {
public:
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread &thread : threads_)
      thread.join();
  }

  /// Runs `job` on the calling thread and `helpers` pool threads. Returns
  /// false, having run nothing, when another thread is using the pool.
  bool run(Job &job, int helpers) {
    std::unique_lock<std::mutex> busy(runMutex_, std::try_to_lock);
    if (!busy.owns_lock())
      return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(threads_.size()) < helpers) {
        int index = static_cast<int>(threads_.size());
        threads_.emplace_back([this, index] { workerLoop(index); });
      }
      job_ = &job;
      helpers_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    insideParallelFor = true;
    job.runChunks();
    insideParallelFor = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

private:
  void workerLoop(int index) {
    insideParallelFor = true;
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_)
        return;
      seen = generation_;
      if (index >= helpers_)
        continue;
      Job *job = job_;
      lock.unlock();
      job->runChunks();
      lock.lock();
      if (--pending_ == 0)
        done_.notify_one();
    }
  }

  std::mutex runMutex_; // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  Job *job_ = nullptr;
  int helpers_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

ThreadPool &pool() {
  static ThreadPool instance;
  return instance;
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
  if (workers > 1 && !insideParallelFor) {
    Job job;
    job.count = count;
    job.grain = grain;
    job.chunks = chunks;
    job.body = &body;
    if (pool().run(job, static_cast<int>(workers - 1))) {
      if (job.firstError)
        std::rethrow_exception(job.firstError);
      return;
    }
  }
  // Sequential: one thread, a nested call, or the pool busy with another
  // caller's job. Same chunks, so the same bits.
  for (int64_t c = 0; c < chunks; ++c)
    body(c * grain, std::min(count, (c + 1) * grain));
}

} // namespace pgc::cpu
