// The prefetching loader: workers claim batch sequence numbers in order and the
// consumer takes them back in order.
//
// Batches are numbered globally (epoch * batchesPerEpoch + index) so that any
// worker can build any batch from the seed alone; results come back through
// a map keyed by that number, which restores order whatever the timing.
#include "runtime/data/DataLoader.h"

#include "runtime/data/Random.h"
#include "runtime/support/Error.h"

#include <numeric>

namespace pgc {

std::vector<size_t> DataLoader::epochOrder(size_t size, uint64_t seed,
                                           int64_t epoch, bool shuffle) {
  if (!shuffle) {
    std::vector<size_t> order(size);
    std::iota(order.begin(), order.end(), size_t{0});
    return order;
  }
  SeededRandom random = SeededRandom::forStream(seed, /*epoch stream*/ 2,
                                                static_cast<uint64_t>(epoch));
  return seededPermutation(size, random);
}

DataLoader::DataLoader(VqaDataset dataset, CollateFunction collate,
                       DataLoaderOptions options)
    : dataset_(std::move(dataset)), collate_(std::move(collate)),
      options_(options) {
  if (options_.batchSize <= 0)
    fail("{}: batch size must be positive, got {}", dataset_.name(),
         options_.batchSize);
  int64_t size = static_cast<int64_t>(dataset_.size());
  batchesPerEpoch_ = options_.dropLast
                         ? size / options_.batchSize
                         : (size + options_.batchSize - 1) / options_.batchSize;
  if (batchesPerEpoch_ == 0)
    fail("{}: {} examples make no batch of {}", dataset_.name(), size,
         options_.batchSize);
  if (options_.start.epoch < 0 || options_.start.batchIndex < 0 ||
      options_.start.batchIndex >= batchesPerEpoch_)
    fail("{}: cannot resume at epoch {} batch {}: an epoch has {} batches",
         dataset_.name(), options_.start.epoch, options_.start.batchIndex,
         batchesPerEpoch_);
  nextToClaim_ = nextToReturn_ =
      options_.start.epoch * batchesPerEpoch_ + options_.start.batchIndex;
  if (options_.epochs > 0)
    endSequence_ = options_.epochs * batchesPerEpoch_;
  int workers = options_.workers < 1 ? 1 : options_.workers;
  if (options_.prefetchBatches < 1)
    options_.prefetchBatches = 1;
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] { work(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workAvailable_.notify_all();
  for (std::thread &thread : threads_)
    thread.join();
}

LoaderPosition DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {nextToReturn_ / batchesPerEpoch_, nextToReturn_ % batchesPerEpoch_};
}

// Called with mutex_ held.
std::vector<const VqaExample *>
DataLoader::examplesOf(int64_t sequence, std::vector<size_t> *indices) {
  int64_t epoch = sequence / batchesPerEpoch_;
  auto it = orders_.find(epoch);
  if (it == orders_.end()) {
    it = orders_
             .emplace(epoch, std::make_shared<const std::vector<size_t>>(
                                 epochOrder(dataset_.size(), options_.seed,
                                            epoch, options_.shuffle)))
             .first;
    // Workers run at most a few batches ahead, so only the current and the
    // next epoch's orders are ever needed.
    while (orders_.begin()->first < epoch - 1)
      orders_.erase(orders_.begin());
  }
  const std::vector<size_t> &order = *it->second;
  size_t begin = static_cast<size_t>(sequence % batchesPerEpoch_) *
                 static_cast<size_t>(options_.batchSize);
  size_t end =
      std::min(order.size(), begin + static_cast<size_t>(options_.batchSize));
  std::vector<const VqaExample *> examples;
  for (size_t i = begin; i < end; ++i) {
    indices->push_back(order[i]);
    examples.push_back(&dataset_[order[i]]);
  }
  return examples;
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    workAvailable_.wait(lock, [&] {
      return stopping_ ||
             (nextToClaim_ < nextToReturn_ + options_.prefetchBatches &&
              (endSequence_ < 0 || nextToClaim_ < endSequence_));
    });
    if (stopping_)
      return;
    int64_t sequence = nextToClaim_++;
    std::vector<size_t> indices;
    std::vector<const VqaExample *> examples = examplesOf(sequence, &indices);
    lock.unlock();
    Slot slot;
    try {
      Batch batch = collate_(examples);
      batch.exampleIndices = std::move(indices);
      batch.position = {sequence / batchesPerEpoch_,
                        sequence % batchesPerEpoch_};
      slot.batch = std::move(batch);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    done_.emplace(sequence, std::move(slot));
    batchReady_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (endSequence_ >= 0 && nextToReturn_ >= endSequence_)
    return std::nullopt;
  batchReady_.wait(lock, [&] { return done_.count(nextToReturn_) > 0; });
  auto it = done_.find(nextToReturn_);
  Slot slot = std::move(it->second);
  done_.erase(it);
  ++nextToReturn_;
  lock.unlock();
  workAvailable_.notify_all();
  if (slot.error)
    std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

} // namespace pgc
