// The SentencePiece wrapper: special ids, the "\n" piece, round trips,
// deterministic training, errors naming the file.
#include "runtime/data/Tokenizer.h"
#include "runtime/data/SynthVqa.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>

namespace pgc {
namespace {

TEST(Tokenizer, TrainedModelHasGemmaSpecialIdsAndANewlinePiece) {
  Tokenizer tokenizer =
      Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()), "trained");
  EXPECT_EQ(tokenizer.padId(), 0);
  EXPECT_EQ(tokenizer.eosId(), 1);
  EXPECT_EQ(tokenizer.bosId(), 2);
  EXPECT_EQ(tokenizer.unkId(), 3);
  ASSERT_TRUE(tokenizer.pieceId("\n").has_value());
  EXPECT_EQ(tokenizer.encode("\n").back(), *tokenizer.pieceId("\n"));
  EXPECT_FALSE(tokenizer.pieceId("no-such-piece").has_value());
  EXPECT_GT(tokenizer.vocabSize(), 20);
  EXPECT_LE(tokenizer.vocabSize(), 256);
}

TEST(Tokenizer, CorpusRoundTripsWithoutUnknownPieces) {
  Tokenizer tokenizer =
      Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()), "trained");
  for (const std::string &sentence : synthVqaCorpus()) {
    std::vector<int64_t> ids = tokenizer.encode(sentence);
    ASSERT_FALSE(ids.empty()) << sentence;
    for (int64_t id : ids)
      EXPECT_NE(id, tokenizer.unkId()) << sentence;
    EXPECT_EQ(tokenizer.decode(ids), sentence);
  }
  // Answers (the corpus entries without a space) are single pieces, so the
  // model predicts one token per answer.
  int answers = 0;
  for (const std::string &sentence : synthVqaCorpus())
    if (sentence.find(' ') == std::string::npos) {
      EXPECT_EQ(tokenizer.encode(sentence).size(), 1u) << sentence;
      ++answers;
    }
  EXPECT_EQ(answers, 4 + 6 + 6 + 2); // shapes, colours, counts, yes/no
}

TEST(Tokenizer, TrainingIsDeterministic) {
  EXPECT_EQ(trainTokenizer(synthVqaCorpus()), trainTokenizer(synthVqaCorpus()));
}

TEST(Tokenizer, LoadsFromFileAndNamesBadFiles) {
  testing::ScratchDir scratch("pgc-tokenizer-test");
  std::string path = scratch / "tokenizer.model";
  writeFileAtomically(path, trainTokenizer(synthVqaCorpus()));
  Tokenizer tokenizer = Tokenizer::load(path);
  EXPECT_EQ(tokenizer.name(), path);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("what shape is red?")),
            "what shape is red?");

  std::string garbage = scratch / "garbage.model";
  writeFileAtomically(garbage, "not a protobuf at all \xff\xfe");
  try {
    Tokenizer::load(garbage);
    ADD_FAILURE() << "loaded garbage";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(garbage), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Tokenizer::load(scratch / "missing.model"), Error);
  EXPECT_THROW(tokenizer.decode({tokenizer.vocabSize()}), Error);
}

} // namespace
} // namespace pgc
