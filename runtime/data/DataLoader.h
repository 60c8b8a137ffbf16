// Epoch iteration over a VQA dataset with seeded shuffling and background
// threads that decode and collate batches ahead of the trainer.
#pragma once

#include "runtime/data/ImageFolder.h"
#include "runtime/support/Tensor.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace pgc {

/// Where a loader stands: the next batch it yields is batch `batchIndex` of
/// epoch `epoch`. Saved in checkpoints; a loader started from it yields the
/// same batches as the original run would have.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batchIndex = 0;
  bool operator==(const LoaderPosition &other) const {
    return epoch == other.epoch && batchIndex == other.batchIndex;
  }
};

/// A collated batch as the model consumes it: I64 [B, L] token rows and
/// F32 [B, 3, S, S] pixels, plus what evaluation needs to score answers.
struct Batch {
  Tensor inputIds;
  Tensor attentionMask;
  Tensor tokenTypeIds;
  Tensor labels;
  Tensor pixelValues;
  std::vector<size_t> exampleIndices; // into the dataset
  std::vector<std::vector<std::string>> referenceAnswers;
  LoaderPosition position; // of this batch
};

/// Turns examples into a batch (decodes images, tokenizes); runs on loader
/// threads, so it must be safe to call concurrently.
using CollateFunction =
    std::function<Batch(const std::vector<const VqaExample *> &examples)>;

struct DataLoaderOptions {
  int64_t batchSize = 1;
  bool shuffle = true;
  uint64_t seed = 0;
  /// Drop the last, smaller batch of an epoch (the compiled step has a
  /// fixed batch size).
  bool dropLast = true;
  /// 0 = endless; otherwise next() returns nullopt after this many epochs.
  int64_t epochs = 0;
  /// Batches decoded ahead of the consumer.
  int64_t prefetchBatches = 4;
  /// Threads decoding batches; each works on whole batches.
  int workers = 1;
  LoaderPosition start;
};

class DataLoader {
public:
  DataLoader(VqaDataset dataset, CollateFunction collate,
             DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader &) = delete;
  DataLoader &operator=(const DataLoader &) = delete;

  /// The next batch in order, waiting for a worker if needed; nullopt after
  /// the last epoch. An error a worker hit (a corrupt image) is rethrown
  /// here, for the batch it belongs to.
  std::optional<Batch> next();
  /// Of the batch the next call to next() returns.
  LoaderPosition position() const;
  int64_t batchesPerEpoch() const { return batchesPerEpoch_; }
  const VqaDataset &dataset() const { return dataset_; }

  /// The example order of an epoch: a seeded permutation when shuffling.
  static std::vector<size_t> epochOrder(size_t size, uint64_t seed,
                                        int64_t epoch, bool shuffle);

private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void work();
  std::vector<const VqaExample *> examplesOf(int64_t sequence,
                                             std::vector<size_t> *indices);

  VqaDataset dataset_;
  CollateFunction collate_;
  DataLoaderOptions options_;
  int64_t batchesPerEpoch_ = 0;
  int64_t endSequence_ = -1; // -1: endless

  mutable std::mutex mutex_;
  std::condition_variable workAvailable_;
  std::condition_variable batchReady_;
  bool stopping_ = false;
  int64_t nextToClaim_ = 0;  // global batch sequence number
  int64_t nextToReturn_ = 0; // global batch sequence number
  std::map<int64_t, Slot> done_;
  std::map<int64_t, std::shared_ptr<const std::vector<size_t>>> orders_;
  std::vector<std::thread> threads_;
};

} // namespace pgc
