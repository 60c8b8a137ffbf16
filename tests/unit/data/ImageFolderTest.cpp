// imagefolder metadata (metadata.jsonl and metadata.csv): columns, answer
// lists, seeded splits, and errors that name the file and line.
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
  withAnswers.answersRequired = true;
  makeFolder(scratch.str(), 2, rows(1));
  expectErrorAt(scratch.str(), metadata + ":1", "no column 'answers'",
                withAnswers);

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
  expectErrorAt(scratch / "nowhere",
                "nowhere: no metadata.jsonl or "
                "metadata.csv",
                "an imagefolder needs one");
}

// VQAv2 has an `answers` column: read by default, but a set without one (or
// a row without one) still opens.
TEST(ImageFolder, DefaultColumnsReadAnswersWhereARowHasThem) {
  testing::ScratchDir scratch("pgc-imagefolder-default-answers");
  makeFolder(scratch.str(), 2,
             rows(1) + "{\"file_name\": \"1.png\", \"question\": \"q\", "
                       "\"multiple_choice_answer\": \"a\", "
                       "\"answers\": [{\"answer\": \"a\"}, \"b\"]}\n");
  VqaDataset dataset = VqaDataset::openImageFolder(scratch.str());
  ASSERT_EQ(dataset.size(), 2u);
  EXPECT_TRUE(dataset[0].answers.empty());
  EXPECT_EQ(dataset[1].answers, (std::vector<std::string>{"a", "b"}));
  // Present but malformed is still an error.
  makeFolder(scratch.str(), 1,
             "{\"file_name\": \"0.png\", \"question\": \"q\", "
             "\"multiple_choice_answer\": \"a\", \"answers\": \"a\"}\n");
  expectErrorAt(scratch.str(), "metadata.jsonl:1", "must be a list of answers");
}

// A folder with images 0.png... and metadata.csv holding `csv` as bytes.
void makeCsvFolder(const std::string &folder, int count,
                   const std::string &csv) {
  for (int i = 0; i < count; ++i)
    writeText(folder + "/" + std::to_string(i) + ".png", "x");
  writeText(folder + "/metadata.csv", csv);
}

TEST(ImageFolderCsv, QuotedFieldsCommasQuotesNewlinesCrlfAndBom) {
  testing::ScratchDir scratch("pgc-imagefolder-csv");
  makeCsvFolder(
      scratch.str(), 3,
      "\xEF\xBB\xBF" // the byte order mark Excel writes
      "file_name,question,multiple_choice_answer,answers\r\n"
      "0.png,\"how many, roughly?\",3,\"[\"\"3\"\", \"\"three\"\"]\"\r\n"
      "\r\n"
      "1.png,\"a \"\"quoted\"\" word\nand a second line\", cat ,"
      "\"[{\"\"answer\"\": \"\"cat\"\"}, {\"\"answer\"\": 2}]\"\r\n"
      "2.png,last,dog,"); // no final newline, empty answers cell
  VqaDataset dataset = VqaDataset::openImageFolder(scratch.str());
  ASSERT_EQ(dataset.size(), 3u);
  EXPECT_EQ(dataset[0].imagePath, scratch / "0.png");
  EXPECT_EQ(dataset[0].question, "how many, roughly?");
  EXPECT_EQ(dataset[0].answer, "3");
  EXPECT_EQ(dataset[0].answers, (std::vector<std::string>{"3", "three"}));
  EXPECT_EQ(dataset[0].source, scratch / "metadata.csv:2");
  EXPECT_EQ(dataset[1].question, "a \"quoted\" word\nand a second line");
  EXPECT_EQ(dataset[1].answer, " cat "); // spaces kept, as pandas keeps them
  EXPECT_EQ(dataset[1].answers, (std::vector<std::string>{"cat", "2"}));
  EXPECT_EQ(dataset[1].source, scratch / "metadata.csv:4"); // where it starts
  EXPECT_EQ(dataset[2].question, "last");
  EXPECT_TRUE(dataset[2].answers.empty());
  EXPECT_EQ(dataset[2].source, scratch / "metadata.csv:6");
}

TEST(ImageFolderCsv, ReadsTheSameExamplesAsTheJsonlForm) {
  testing::ScratchDir scratch("pgc-imagefolder-csv-jsonl");
  makeFolder(scratch / "jsonl", 3,
             "{\"file_name\": \"0.png\", \"q\": \"what, where?\", "
             "\"a\": \"x\", \"answers\": [\"x\", \"y\"]}\n"
             "{\"file_name\": \"1.png\", \"q\": \"say \\\"hi\\\"\", "
             "\"a\": \"hi\", \"answers\": [{\"answer\": \"hi\"}]}\n"
             "{\"file_name\": \"2.png\", \"q\": \"two\\nlines\", "
             "\"a\": \"7\", \"answers\": []}\n");
  makeCsvFolder(
      scratch / "csv", 3,
      "q,a,file_name,answers\n"
      "\"what, where?\",x,0.png,\"[\"\"x\"\", \"\"y\"\"]\"\n"
      "\"say \"\"hi\"\"\",hi,1.png,\"[{\"\"answer\"\": \"\"hi\"\"}]\"\n"
      "\"two\nlines\",7,2.png,[]\n");
  VqaColumns columns;
  columns.question = "q";
  columns.answer = "a";
  columns.answersRequired = true;
  VqaDataset jsonl = VqaDataset::openImageFolder(scratch / "jsonl", columns);
  VqaDataset csv = VqaDataset::openImageFolder(scratch / "csv", columns);
  ASSERT_EQ(jsonl.size(), csv.size());
  for (size_t i = 0; i < jsonl.size(); ++i) {
    EXPECT_EQ(std::filesystem::path(jsonl[i].imagePath).filename(),
              std::filesystem::path(csv[i].imagePath).filename());
    EXPECT_EQ(jsonl[i].question, csv[i].question) << i;
    EXPECT_EQ(jsonl[i].answer, csv[i].answer) << i;
    EXPECT_EQ(jsonl[i].answers, csv[i].answers) << i;
  }
}

TEST(ImageFolderCsv, ErrorsNameTheFileAndTheLineARecordStartsOn) {
  testing::ScratchDir scratch("pgc-imagefolder-csv-errors");
  std::string csv = scratch / "metadata.csv";
  std::string header = "file_name,question,multiple_choice_answer\n";
  makeCsvFolder(scratch.str(), 2, "file_name,q,multiple_choice_answer\n");
  expectErrorAt(scratch.str(), csv + ":1",
                "no column 'question' (the header has: file_name, q, "
                "multiple_choice_answer)");
  VqaColumns required;
  required.answersRequired = true;
  makeCsvFolder(scratch.str(), 2, header + "0.png,q,a\n");
  expectErrorAt(scratch.str(), csv + ":1", "no column 'answers'", required);
  makeCsvFolder(scratch.str(), 2,
                "file_name,question,question,multiple_choice_answer\n");
  expectErrorAt(scratch.str(), csv + ":1", "'question' appears twice");

  makeCsvFolder(scratch.str(), 2, header + "0.png,q,a\n1.png,q\n");
  expectErrorAt(scratch.str(), csv + ":3",
                "2 fields, but the header has 3 columns");
  makeCsvFolder(scratch.str(), 2, header + "0.png,q,a\n9.png,q,a\n");
  expectErrorAt(scratch.str(), csv + ":3", "not found");
  makeCsvFolder(scratch.str(), 2, header + "0.png,\"q\"x,a\n");
  expectErrorAt(scratch.str(), csv + ":2", "malformed CSV");
  makeCsvFolder(scratch.str(), 2, header + "0.png,q,a\n1.png,\"open\n\nq,a\n");
  expectErrorAt(scratch.str(), csv + ":3", "not closed");

  std::string withAnswers =
      "file_name,question,multiple_choice_answer,answers\n";
  for (const char *cell :
       {"red", "\"{\"\"answer\"\": \"\"red\"\"}\"", "\"[1,\""}) {
    makeCsvFolder(scratch.str(), 2,
                  withAnswers + "0.png,q,a,[]\n1.png,q,a," + cell + "\n");
    expectErrorAt(scratch.str(), csv + ":3",
                  "column 'answers' must hold a JSON array of answers");
  }
  makeCsvFolder(scratch.str(), 2, withAnswers + "0.png,q,a,\n");
  expectErrorAt(scratch.str(), csv + ":2", "must hold a JSON array", required);
  makeCsvFolder(scratch.str(), 2, withAnswers + "0.png,q,a,\"[[1]]\"\n");
  expectErrorAt(scratch.str(), csv + ":2", "must be a string");

  // Image names stay inside the folder, even when the file exists outside.
  writeText(scratch / "outside/0.png", "x");
  makeCsvFolder(scratch / "inner", 1, header + "../outside/0.png,q,a\n");
  expectErrorAt(scratch / "inner", "metadata.csv:2",
                "'../outside/0.png' leaves the dataset folder");
  makeCsvFolder(scratch.str(), 2, header + (scratch / "0.png") + ",q,a\n");
  expectErrorAt(scratch.str(), csv + ":2", "leaves the dataset folder");

  makeCsvFolder(scratch.str(), 2, header);
  expectErrorAt(scratch.str(), csv, "no examples");
  makeCsvFolder(scratch.str(), 2, "");
  expectErrorAt(scratch.str(), csv, "no examples");
}

// Hugging Face refuses several metadata files; which one pgc read would be a
// guess, so it refuses too.
TEST(ImageFolderCsv, BothMetadataFilesAreAnError) {
  testing::ScratchDir scratch("pgc-imagefolder-both");
  makeFolder(scratch.str(), 1, rows(1));
  makeCsvFolder(scratch.str(), 1,
                "file_name,question,multiple_choice_answer\n0.png,q,a\n");
  expectErrorAt(scratch.str(), scratch.str(),
                "holds both metadata.jsonl and metadata.csv");
}

TEST(ImageFolderCsv, SplitFoldersWithMetadataCsvAreFound) {
  testing::ScratchDir scratch("pgc-imagefolder-csv-splits");
  std::string header = "file_name,question,multiple_choice_answer\n";
  EXPECT_FALSE(hasImageFolderMetadata(scratch / "train"));
  makeCsvFolder(scratch / "train", 3,
                header + "0.png,q0,a\n1.png,q1,a\n2.png,q2,a\n");
  makeCsvFolder(scratch / "val", 1, header + "0.png,v,a\n");
  EXPECT_TRUE(hasImageFolderMetadata(scratch / "train"));
  VqaSplits splits = openImageFolderSplits(scratch.str());
  EXPECT_EQ(splits.train.size(), 3u);
  ASSERT_EQ(splits.validation.size(), 1u);
  EXPECT_EQ(splits.validation[0].question, "v");
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
