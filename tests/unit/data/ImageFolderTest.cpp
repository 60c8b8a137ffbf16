// imagefolder metadata: columns, answer lists, seeded splits, and errors that
// name the file and line.
#include "runtime/data/ImageFolder.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

namespace pgc {
namespace {

void writeText(const std::string &path, const std::string &text) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  writeFileAtomically(path, text);
}

// A folder with `count` tiny files named 0.png... and the given metadata.
void makeFolder(const std::string &folder, int count,
                const std::string &metadata) {
  for (int i = 0; i < count; ++i)
    writeText(folder + "/" + std::to_string(i) + ".png", "x");
  writeText(folder + "/metadata.jsonl", metadata);
}

std::string rows(int count) {
  std::string text;
  for (int i = 0; i < count; ++i)
    text += "{\"file_name\": \"" + std::to_string(i) +
            ".png\", \"question\": \"q" + std::to_string(i) +
            "\", \"multiple_choice_answer\": \"a" + std::to_string(i) + "\"}\n";
  return text;
}

void expectErrorAt(const std::string &folder, const std::string &where,
                   const std::string &fragment,
                   const VqaColumns &columns = {}) {
  try {
    VqaDataset::openImageFolder(folder, columns);
    ADD_FAILURE() << "opened " << folder;
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_NE(message.find(where), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(ImageFolder, ReadsConfiguredColumnsAndAnswerLists) {
  testing::ScratchDir scratch("pgc-imagefolder-columns");
  makeFolder(scratch.str(), 2,
             "{\"file_name\": \"0.png\", \"q\": \"how many?\", \"a\": 3, "
             "\"answers\": [{\"answer\": \"3\"}, {\"answer\": \"three\"}]}\n"
             "\n"
             "{\"file_name\": \"1.png\", \"q\": \"what?\", \"a\": \"cat\", "
             "\"answers\": [\"cat\", \"kitten\"]}\n");
  VqaColumns columns;
  columns.question = "q";
  columns.answer = "a";
  columns.answers = "answers";
  VqaDataset dataset = VqaDataset::openImageFolder(scratch.str(), columns);
  ASSERT_EQ(dataset.size(), 2u);
  EXPECT_EQ(dataset[0].question, "how many?");
  EXPECT_EQ(dataset[0].answer, "3");
  EXPECT_EQ(dataset[0].answers, (std::vector<std::string>{"3", "three"}));
  EXPECT_EQ(dataset[1].answers, (std::vector<std::string>{"cat", "kitten"}));
  EXPECT_EQ(dataset[1].imagePath, scratch / "1.png");
  EXPECT_EQ(dataset[1].source, scratch / "metadata.jsonl:3");
}

TEST(ImageFolder, ErrorsNameTheFileAndLine) {
  testing::ScratchDir scratch("pgc-imagefolder-errors");
  std::string metadata = scratch / "metadata.jsonl";
  makeFolder(scratch.str(), 2,
             rows(1) + "{\"file_name\": \"1.png\", \"question\": \"q\"}\n");
  expectErrorAt(scratch.str(), metadata + ":2", "multiple_choice_answer");

  makeFolder(scratch.str(), 2,
             rows(1) + "{\"file_name\": \"9.png\", "
                       "\"question\": \"q\", "
                       "\"multiple_choice_answer\": \"a\"}\n");
  expectErrorAt(scratch.str(), metadata + ":2", "not found");

  makeFolder(scratch.str(), 2, rows(1) + "{\"file_name\": \"1.png\",\n");
  expectErrorAt(scratch.str(), metadata + ":2", "not valid JSON");

  makeFolder(scratch.str(), 2, "[1, 2]\n");
  expectErrorAt(scratch.str(), metadata + ":1", "JSON object");

  makeFolder(scratch.str(), 2,
             rows(1) + "{\"file_name\": \"1.png\", \"question\": [\"q\"], "
                       "\"multiple_choice_answer\": \"a\"}\n");
  expectErrorAt(scratch.str(), metadata + ":2", "must be a string");

  VqaColumns withAnswers;
  withAnswers.answers = "answers";
  makeFolder(scratch.str(), 2, rows(1));
  expectErrorAt(scratch.str(), metadata + ":1", "answers", withAnswers);

  // Image names stay inside the folder, even when the file exists outside.
  makeFolder(scratch.str(), 2, rows(1));
  writeText(scratch / "outside/0.png", "x");
  makeFolder(scratch / "inner", 1,
             "{\"file_name\": \"../outside/0.png\", \"question\": \"q\", "
             "\"multiple_choice_answer\": \"a\"}\n");
  expectErrorAt(scratch / "inner", "metadata.jsonl:1",
                "'../outside/0.png' leaves the dataset folder");
  makeFolder(scratch.str(), 2,
             "{\"file_name\": \"" + (scratch / "0.png") +
                 "\", \"question\": \"q\", \"multiple_choice_answer\": "
                 "\"a\"}\n");
  expectErrorAt(scratch.str(), metadata + ":1", "leaves the dataset folder");

  makeFolder(scratch.str(), 0, "\n");
  expectErrorAt(scratch.str(), metadata, "no examples");
  expectErrorAt(scratch / "nowhere", "metadata.jsonl", "cannot open");
}

TEST(ImageFolder, SeededSplitIsDisjointCompleteAndRepeatable) {
  testing::ScratchDir scratch("pgc-imagefolder-split");
  makeFolder(scratch.str(), 95, rows(95));
  VqaSplits a = openImageFolderSplits(scratch.str(), {}, 0.1, 7);
  VqaSplits b = openImageFolderSplits(scratch.str(), {}, 0.1, 7);
  VqaSplits c = openImageFolderSplits(scratch.str(), {}, 0.1, 8);
  EXPECT_EQ(a.validation.size(), 10u); // ceil(0.1 * 95)
  EXPECT_EQ(a.train.size(), 85u);
  std::set<std::string> seen;
  for (const auto &e : a.train.examples())
    seen.insert(e.question);
  for (const auto &e : a.validation.examples())
    EXPECT_TRUE(seen.insert(e.question).second) << e.question << " in both";
  EXPECT_EQ(seen.size(), 95u);
  std::vector<std::string> va, vb, vc;
  for (const auto &e : a.validation.examples())
    va.push_back(e.question);
  for (const auto &e : b.validation.examples())
    vb.push_back(e.question);
  for (const auto &e : c.validation.examples())
    vc.push_back(e.question);
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(ImageFolder, SeparateTrainAndValidationFolders) {
  testing::ScratchDir scratch("pgc-imagefolder-folders");
  makeFolder(scratch / "train", 5, rows(5));
  makeFolder(scratch / "validation", 2, rows(2));
  VqaSplits splits = openImageFolderSplits(scratch.str());
  EXPECT_EQ(splits.train.size(), 5u);
  EXPECT_EQ(splits.validation.size(), 2u);
  EXPECT_THROW(openImageFolderSplits(scratch / "validation/none"), Error);
}

} // namespace
} // namespace pgc
