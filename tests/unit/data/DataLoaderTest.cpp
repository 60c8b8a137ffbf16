// The loader: each example once per epoch, seeded orders, resume from a saved
// position, errors at their batch.
#include "runtime/data/DataLoader.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

#include <set>

namespace pgc {
namespace {

VqaDataset numberedDataset(size_t size) {
  std::vector<VqaExample> examples(size);
  for (size_t i = 0; i < size; ++i) {
    examples[i].question = std::to_string(i);
    examples[i].source = "line " + std::to_string(i + 1);
  }
  return VqaDataset("numbers", std::move(examples));
}

// Collation that records which examples it saw: a [B] I64 tensor of their
// question numbers, so tests can check the order the loader produced.
Batch recordExamples(const std::vector<const VqaExample *> &examples) {
  Batch batch;
  batch.inputIds = Tensor(DType::I64, {static_cast<int64_t>(examples.size())});
  for (size_t i = 0; i < examples.size(); ++i) {
    if (examples[i]->question == "13")
      fail("{}: cannot decode", examples[i]->source);
    batch.inputIds.set(static_cast<int64_t>(i),
                       std::stod(examples[i]->question));
  }
  return batch;
}

std::vector<std::vector<int64_t>> drain(DataLoader &loader, int count) {
  std::vector<std::vector<int64_t>> batches;
  for (int i = 0; i < count; ++i) {
    auto batch = loader.next();
    if (!batch)
      break;
    std::vector<int64_t> ids;
    for (int64_t j = 0; j < batch->inputIds.numel(); ++j)
      ids.push_back(static_cast<int64_t>(batch->inputIds.at(j)));
    EXPECT_EQ(batch->exampleIndices.size(), ids.size());
    for (size_t j = 0; j < ids.size(); ++j)
      EXPECT_EQ(static_cast<int64_t>(batch->exampleIndices[j]), ids[j]);
    batches.push_back(ids);
  }
  return batches;
}

TEST(DataLoader, EachExampleOncePerEpochInASeededOrder) {
  DataLoaderOptions options;
  options.batchSize = 4;
  options.dropLast = false;
  options.epochs = 2;
  options.seed = 5;
  options.workers = 2;
  DataLoader loader(numberedDataset(10), recordExamples, options);
  EXPECT_EQ(loader.batchesPerEpoch(), 3);
  auto batches = drain(loader, 100);
  ASSERT_EQ(batches.size(), 6u);
  EXPECT_EQ(batches[2].size(), 2u); // the short last batch is kept
  std::vector<int64_t> first, second;
  for (int b = 0; b < 3; ++b) {
    first.insert(first.end(), batches[b].begin(), batches[b].end());
    second.insert(second.end(), batches[b + 3].begin(), batches[b + 3].end());
  }
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 10u);
  EXPECT_EQ(std::set<int64_t>(second.begin(), second.end()).size(), 10u);
  EXPECT_NE(first, second) << "epochs should be shuffled differently";
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_EQ(loader.position(), (LoaderPosition{2, 0}));
}

TEST(DataLoader, OrderDependsOnSeedAndShuffleFlagOnly) {
  auto order = DataLoader::epochOrder(50, 1, 0, true);
  EXPECT_EQ(order, DataLoader::epochOrder(50, 1, 0, true));
  EXPECT_NE(order, DataLoader::epochOrder(50, 2, 0, true));
  EXPECT_NE(order, DataLoader::epochOrder(50, 1, 1, true));
  auto plain = DataLoader::epochOrder(5, 1, 3, false);
  EXPECT_EQ(plain, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(DataLoader, ResumingAtASavedPositionRepeatsTheRun) {
  DataLoaderOptions options;
  options.batchSize = 3;
  options.seed = 11;
  options.workers = 3;
  options.prefetchBatches = 5;
  VqaDataset dataset = numberedDataset(12);
  std::vector<std::vector<int64_t>> uninterrupted;
  LoaderPosition saved;
  {
    DataLoader loader(dataset, recordExamples, options);
    EXPECT_EQ(loader.batchesPerEpoch(), 4);
    uninterrupted = drain(loader, 6);
    saved = loader.position();
    auto rest = drain(loader, 5);
    uninterrupted.insert(uninterrupted.end(), rest.begin(), rest.end());
  }
  EXPECT_EQ(saved, (LoaderPosition{1, 2}));
  options.start = saved;
  options.workers = 1;
  DataLoader resumed(dataset, recordExamples, options);
  EXPECT_EQ(resumed.position(), saved);
  auto rest = drain(resumed, 5);
  EXPECT_EQ(rest, std::vector<std::vector<int64_t>>(uninterrupted.begin() + 6,
                                                    uninterrupted.end()));
}

TEST(DataLoader, AWorkerErrorSurfacesAtItsBatch) {
  DataLoaderOptions options;
  options.batchSize = 5;
  options.shuffle = false;
  options.workers = 2;
  DataLoader loader(numberedDataset(20), recordExamples, options);
  EXPECT_TRUE(loader.next().has_value()); // 0..4
  EXPECT_TRUE(loader.next().has_value()); // 5..9
  try {
    loader.next(); // 10..14 holds example 13
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("line 14"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(loader.next().has_value()); // 15..19: the loader goes on
}

TEST(DataLoader, BadOptionsAreErrors) {
  DataLoaderOptions options;
  options.batchSize = 0;
  EXPECT_THROW(DataLoader(numberedDataset(4), recordExamples, options), Error);
  options.batchSize = 8; // dropLast: 4 examples make no batch
  EXPECT_THROW(DataLoader(numberedDataset(4), recordExamples, options), Error);
  options.batchSize = 2;
  options.start = {0, 2};
  EXPECT_THROW(DataLoader(numberedDataset(4), recordExamples, options), Error);
}

} // namespace
} // namespace pgc
