// The PaliGemma processor: the golden batch's layout from its own token ids,
// truncation, the generation form, collation.
#include "models/paligemma/processor/PaliGemmaProcessor.h"
#include "runtime/data/ImageTransforms.h"
#include "runtime/data/SynthVqa.h"
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>

#include <algorithm>
namespace pgc {
namespace {

std::vector<int64_t> row(const Tensor &tensor, int64_t b) {
  int64_t length = tensor.dim(1);
  std::vector<int64_t> values(length);
  for (int64_t i = 0; i < length; ++i)
    values[i] = static_cast<int64_t>(tensor.at(b * length + i));
  return values;
}

// The golden batch was made by Hugging Face's processor conventions on a
// tiny model (16 image tokens, <image> = 256, "\n" = 108, L = 27); its README
// documents the layout. Only the prompt and answer ids are taken from it.
TEST(PaliGemmaLayout, ReproducesTheGoldenBatch) {
  SafetensorsFile golden = SafetensorsFile::open(
      std::string(PGC_SOURCE_DIR) +
      "/tests/data/golden/paligemma-tiny-a/golden.safetensors");
  Tensor inputIds = golden.tensor("input_ids");
  ASSERT_EQ(inputIds.shape(), (Shape{2, 27}));
  TokenLayout layout;
  layout.imageSeqLength = 16;
  layout.imageTokenId = 256;
  layout.maxLength = 27;
  const int64_t newline = 108;
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<int64_t> ids = row(inputIds, b);
    // Prompt: after <bos> up to "\n"; answer: after "\n" up to <eos>.
    size_t separator =
        std::find(ids.begin() + 17, ids.end(), newline) - ids.begin();
    size_t eos = std::find(ids.begin() + separator, ids.end(), 1) - ids.begin();
    ASSERT_LT(eos, ids.size());
    std::vector<int64_t> prompt(ids.begin() + 17, ids.begin() + separator);
    std::vector<int64_t> answer(ids.begin() + separator + 1, ids.begin() + eos);
    EncodedText text = layoutTokens(layout, prompt, {newline}, &answer,
                                    "golden example " + std::to_string(b));
    EXPECT_EQ(text.inputIds, ids) << "example " << b;
    EXPECT_EQ(text.attentionMask, row(golden.tensor("attention_mask"), b));
    EXPECT_EQ(text.tokenTypeIds, row(golden.tensor("token_type_ids"), b));
    EXPECT_EQ(text.labels, row(golden.tensor("labels"), b));
  }
}

TEST(PaliGemmaLayout, TruncatesThePromptNeverImageTokensOrTheAnswer) {
  TokenLayout layout;
  layout.imageSeqLength = 3;
  layout.imageTokenId = 99;
  layout.maxLength = 12;
  std::vector<int64_t> prompt = {10, 11, 12, 13, 14, 15};
  std::vector<int64_t> answer = {20, 21};
  // 3 image + bos + 6 prompt + sep + 2 answer + eos = 14 > 12: drop 2.
  EncodedText text = layoutTokens(layout, prompt, {7}, &answer, "ex");
  EXPECT_EQ(text.inputIds, (std::vector<int64_t>{99, 99, 99, 2, 10, 11, 12, 13,
                                                 7, 20, 21, 1}));
  EXPECT_EQ(text.labels,
            (std::vector<int64_t>{-100, -100, -100, -100, -100, -100, -100,
                                  -100, -100, 20, 21, 1}));
  EXPECT_EQ(text.tokenTypeIds,
            (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(text.droppedPromptTokens, 2);

  std::vector<int64_t> longAnswer(8, 30); // 3 + 1 + 1 + 9 = 14 > 12
  EXPECT_THROW(layoutTokens(layout, prompt, {7}, &longAnswer, "ex"), Error);
  layout.truncation = TruncationPolicy::Refuse;
  try {
    layoutTokens(layout, prompt, {7}, &answer, "data.jsonl:4");
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("data.jsonl:4"), std::string::npos);
  }
}

// Generation prompts are cut as training cuts them, with the room the
// answer would take going to the tokens still to be generated.
TEST(PaliGemmaLayout, GenerationPromptLeavesRoomForTheNewTokens) {
  TokenLayout layout;
  layout.imageSeqLength = 3;
  layout.imageTokenId = 99;
  layout.maxLength = 12;
  std::vector<int64_t> prompt = {10, 11, 12, 13, 14, 15};
  // 3 image + bos + 6 prompt + sep = 11; 4 to generate: 15 > 12, drop 3.
  EncodedText text = layoutTokens(layout, prompt, {7}, nullptr, "ex", 4);
  EXPECT_EQ(text.inputIds,
            (std::vector<int64_t>{99, 99, 99, 2, 10, 11, 12, 7}));
  EXPECT_EQ(text.attentionMask, std::vector<int64_t>(8, 1));
  EXPECT_EQ(text.tokenTypeIds, std::vector<int64_t>(8, 0));
  EXPECT_EQ(text.droppedPromptTokens, 3);
  // One token of room: only the prompt's last two go.
  EXPECT_EQ(
      layoutTokens(layout, prompt, {7}, nullptr, "ex", 1).droppedPromptTokens,
      0);
  EXPECT_EQ(
      layoutTokens(layout, prompt, {7}, nullptr, "ex", 2).droppedPromptTokens,
      1);
  // More to generate than the sequence holds after the fixed prefix: the
  // prompt goes entirely, generation still gets its first token.
  EncodedText empty = layoutTokens(layout, prompt, {7}, nullptr, "ex", 20);
  EXPECT_EQ(empty.inputIds, (std::vector<int64_t>{99, 99, 99, 2, 7}));
  EXPECT_EQ(empty.droppedPromptTokens, 6);
  // No room for even one new token is an error naming the request.
  layout.maxLength = 5;
  try {
    layoutTokens(layout, prompt, {7}, nullptr, "request 3", 1);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("request 3"), std::string::npos);
  }
  layout.maxLength = 12;
  layout.truncation = TruncationPolicy::Refuse;
  EXPECT_THROW(layoutTokens(layout, prompt, {7}, nullptr, "ex", 4), Error);
  // A budget belongs to generation prompts only.
  std::vector<int64_t> answer = {20};
  EXPECT_THROW(layoutTokens(layout, prompt, {7}, &answer, "ex", 1), Error);
}

TEST(PaliGemmaLayout, PadsRightWithMaskedPads) {
  TokenLayout layout;
  layout.imageSeqLength = 2;
  layout.imageTokenId = 50;
  layout.maxLength = 10;
  layout.padTokenTypeId = 0; // HF processor's choice
  std::vector<int64_t> answer = {20};
  EncodedText text = layoutTokens(layout, {10}, {7}, &answer, "ex");
  EXPECT_EQ(text.inputIds,
            (std::vector<int64_t>{50, 50, 2, 10, 7, 20, 1, 0, 0, 0}));
  EXPECT_EQ(text.attentionMask,
            (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(text.tokenTypeIds,
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 0, 0, 0}));
  EXPECT_EQ(text.labels, (std::vector<int64_t>{-100, -100, -100, -100, -100, 20,
                                               1, -100, -100, -100}));
}

class ProcessorWithTokenizer : public ::testing::Test {
protected:
  ProcessorWithTokenizer()
      : tokenizer(Tokenizer::fromSerialized(trainTokenizer(synthVqaCorpus()),
                                            "synthetic tokenizer")) {}
  PaliGemmaProcessorConfig config(int64_t maxLength) const {
    PaliGemmaProcessorConfig c;
    c.imageSeqLength = 4;
    c.imageTokenId = tokenizer.vocabSize();
    c.imageSize = 28;
    c.maxLength = maxLength;
    return c;
  }
  Tokenizer tokenizer;
};

TEST_F(ProcessorWithTokenizer, EncodesPromptTemplateQuestionAndAnswer) {
  PaliGemmaProcessor processor(tokenizer, config(32));
  EncodedText text = processor.encodeText("what color is the circle?", "red");
  std::vector<int64_t> expected(4, tokenizer.vocabSize());
  expected.push_back(2);
  for (int64_t id : tokenizer.encode("answer what color is the circle?"))
    expected.push_back(id);
  int64_t prefixLength = static_cast<int64_t>(expected.size()) + 1;
  expected.push_back(*tokenizer.pieceId("\n"));
  expected.push_back(tokenizer.encode("red").at(0));
  expected.push_back(1);
  int64_t realLength = static_cast<int64_t>(expected.size());
  expected.resize(32, 0);
  EXPECT_EQ(text.inputIds, expected);
  for (int64_t i = 0; i < 32; ++i) {
    EXPECT_EQ(text.attentionMask[i], i < realLength ? 1 : 0) << i;
    EXPECT_EQ(text.labels[i],
              i >= prefixLength && i < realLength ? expected[i] : -100)
        << i;
  }
  // The separator tokenized apart equals HF's joint tokenization.
  std::vector<int64_t> joint =
      tokenizer.encode("answer what color is the circle?\n");
  EXPECT_TRUE(std::equal(joint.begin(), joint.end(), expected.begin() + 5));

  EncodedText prompt = processor.encodePrompt("what color is the circle?");
  EXPECT_EQ(
      prompt.inputIds,
      std::vector<int64_t>(expected.begin(), expected.begin() + prefixLength));
  EXPECT_EQ(prompt.labels, std::vector<int64_t>(prefixLength, -100));
  EXPECT_EQ(prompt.tokenTypeIds, std::vector<int64_t>(prefixLength, 0));
}

TEST_F(ProcessorWithTokenizer, RefusesInconsistentSettings) {
  PaliGemmaProcessorConfig c = config(32);
  c.imageTokenId = 5; // a text piece
  EXPECT_THROW(PaliGemmaProcessor(tokenizer, c), Error);
  c = config(32);
  c.promptTemplate = "answer";
  EXPECT_THROW(PaliGemmaProcessor(tokenizer, c), Error);
  PaliGemmaProcessor unpadded(tokenizer, config(0));
  EXPECT_THROW(unpadded.collate({}), Error);
}

TEST_F(ProcessorWithTokenizer, CollatesDecodedResizedImagesAndRows) {
  testing::ScratchDir scratch("pgc-processor-collate");
  SynthVqaOptions options;
  options.outDir = scratch / "set";
  options.trainCount = 3;
  options.validationCount = 1;
  options.imageSize = 40; // resized to 28 by the processor
  generateSynthVqa(options);
  VqaDataset dataset = VqaDataset::openImageFolder(scratch / "set/train");
  PaliGemmaProcessor processor(tokenizer, config(24));
  std::vector<const VqaExample *> examples = {&dataset[2], &dataset[0]};
  Batch batch = processor.collateFunction()(examples);
  EXPECT_EQ(batch.inputIds.shape(), (Shape{2, 24}));
  EXPECT_EQ(batch.labels.dtype(), DType::I64);
  EXPECT_EQ(batch.pixelValues.shape(), (Shape{2, 3, 28, 28}));
  for (int b = 0; b < 2; ++b) {
    EncodedText text =
        processor.encodeText(examples[b]->question, examples[b]->answer);
    EXPECT_EQ(row(batch.inputIds, b), text.inputIds);
    EXPECT_EQ(row(batch.tokenTypeIds, b), text.tokenTypeIds);
    Tensor pixels = toPixelValues(
        resizeBicubic(decodeImageFile(examples[b]->imagePath), 28, 28));
    for (int64_t i = 0; i < pixels.numel(); ++i)
      ASSERT_EQ(batch.pixelValues.at(b * pixels.numel() + i), pixels.at(i));
    // The set's ten annotator answers are the references, read by default.
    EXPECT_EQ(examples[b]->answers.size(), 10u);
    EXPECT_EQ(batch.referenceAnswers[b], examples[b]->answers);
  }
  // A row without an answer list is scored against its one answer.
  VqaExample bare = dataset[1];
  bare.answers.clear();
  Batch single = processor.collateFunction()({&bare});
  EXPECT_EQ(single.referenceAnswers[0], std::vector<std::string>{bare.answer});
}

} // namespace
} // namespace pgc
