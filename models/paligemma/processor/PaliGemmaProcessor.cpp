// The PaliGemma prompt layout (HF PaliGemmaProcessor with a suffix) and batch
// collation.
#include "models/paligemma/processor/PaliGemmaProcessor.h"

#include "runtime/data/ImageTransforms.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cstring>

namespace pgc {

EncodedText layoutTokens(const TokenLayout &layout,
                         const std::vector<int64_t> &promptIds,
                         const std::vector<int64_t> &separatorIds,
                         const std::vector<int64_t> *suffixIds,
                         const std::string &context, int64_t generationBudget) {
  if (generationBudget < 0 || (suffixIds && generationBudget != 0))
    fail("{}: a generation budget ({}) belongs to the generation form only",
         context, generationBudget);
  int64_t prompt = static_cast<int64_t>(promptIds.size());
  int64_t fixedPrefix =
      layout.imageSeqLength + 1 + static_cast<int64_t>(separatorIds.size());
  int64_t suffix = suffixIds ? static_cast<int64_t>(suffixIds->size()) + 1 : 0;
  // What must follow the prompt: the answer with <eos>, or room to generate.
  int64_t after = suffixIds ? suffix : generationBudget;
  int64_t needed = fixedPrefix + prompt + after;
  int64_t keptPrompt = prompt;
  if (layout.maxLength > 0 && needed > layout.maxLength) {
    if (layout.truncation == TruncationPolicy::Refuse)
      fail("{}: {} tokens ({} image + bos + {} prompt + {} separator + {} "
           "{}) do not fit max_length {}, and truncation is off",
           context, needed, layout.imageSeqLength, prompt, separatorIds.size(),
           after, suffixIds ? "answer with eos" : "to generate",
           layout.maxLength);
    if (suffixIds) {
      keptPrompt = layout.maxLength - fixedPrefix - suffix;
      if (keptPrompt < 0)
        fail("{}: the answer alone needs {} tokens ({} with image tokens, "
             "bos and separator), more than max_length {}",
             context, suffix, fixedPrefix + suffix, layout.maxLength);
    } else {
      // Even an empty prompt leaves no room for the first new token: nothing
      // can be generated. Otherwise the budget shrinks to what is left only
      // once the whole prompt is gone.
      if (fixedPrefix >= layout.maxLength)
        fail("{}: image tokens, bos and separator take {} tokens, leaving "
             "no room to generate in max_length {}",
             context, fixedPrefix, layout.maxLength);
      keptPrompt = std::max<int64_t>(0, layout.maxLength - fixedPrefix -
                                            generationBudget);
    }
  }
  int64_t length = fixedPrefix + keptPrompt + suffix;
  int64_t padded =
      layout.maxLength > 0 && suffixIds ? layout.maxLength : length;

  EncodedText out;
  out.droppedPromptTokens = prompt - keptPrompt;
  out.inputIds.reserve(padded);
  out.inputIds.insert(out.inputIds.end(), layout.imageSeqLength,
                      layout.imageTokenId);
  out.inputIds.push_back(layout.bosId);
  out.inputIds.insert(out.inputIds.end(), promptIds.begin(),
                      promptIds.begin() + keptPrompt);
  out.inputIds.insert(out.inputIds.end(), separatorIds.begin(),
                      separatorIds.end());
  int64_t prefixLength = static_cast<int64_t>(out.inputIds.size());
  if (suffixIds) {
    out.inputIds.insert(out.inputIds.end(), suffixIds->begin(),
                        suffixIds->end());
    out.inputIds.push_back(layout.eosId);
  }
  out.attentionMask.assign(padded, 0);
  out.tokenTypeIds.assign(padded, layout.padTokenTypeId);
  out.labels.assign(padded, -100);
  for (int64_t i = 0; i < length; ++i) {
    out.attentionMask[i] = 1;
    bool inSuffix = i >= prefixLength;
    out.tokenTypeIds[i] = inSuffix ? 1 : 0;
    if (inSuffix)
      out.labels[i] = out.inputIds[i];
  }
  out.inputIds.resize(padded, layout.padId);
  return out;
}

PaliGemmaProcessor::PaliGemmaProcessor(Tokenizer tokenizer,
                                       PaliGemmaProcessorConfig config)
    : tokenizer_(std::move(tokenizer)), config_(std::move(config)) {
  const std::string &name = tokenizer_.name();
  if (tokenizer_.bosId() < 0 || tokenizer_.eosId() < 0 ||
      tokenizer_.padId() < 0)
    fail("{}: the tokenizer needs bos, eos and pad ids (has bos {}, eos {}, "
         "pad {})",
         name, tokenizer_.bosId(), tokenizer_.eosId(), tokenizer_.padId());
  auto newline = tokenizer_.pieceId("\n");
  if (!newline)
    fail("{}: the tokenizer has no \"\\n\" piece, which separates the prompt "
         "from the answer",
         name);
  if (config_.imageTokenId < tokenizer_.vocabSize())
    fail("{}: image token id {} collides with the tokenizer's piece '{}' (it "
         "must be at least the vocabulary size {})",
         name, config_.imageTokenId, tokenizer_.piece(config_.imageTokenId),
         tokenizer_.vocabSize());
  if (config_.imageSeqLength < 1 || config_.imageSize < 1)
    fail("{}: image_seq_length {} and image size {} must be positive", name,
         config_.imageSeqLength, config_.imageSize);
  if (config_.promptTemplate.find("{question}") == std::string::npos)
    fail("prompt template '{}' has no {{question}} placeholder",
         config_.promptTemplate);
  if (config_.maxLength < 0)
    fail("max_length {} must not be negative", config_.maxLength);
  layout_.imageSeqLength = config_.imageSeqLength;
  layout_.imageTokenId = config_.imageTokenId;
  layout_.bosId = tokenizer_.bosId();
  layout_.eosId = tokenizer_.eosId();
  layout_.padId = tokenizer_.padId();
  layout_.maxLength = config_.maxLength;
  layout_.truncation = config_.truncation;
  layout_.padTokenTypeId = config_.padTokenTypeId;
  separatorIds_ = {*newline};
}

std::string
PaliGemmaProcessor::formatPrompt(const std::string &question) const {
  std::string prompt = config_.promptTemplate;
  const std::string placeholder = "{question}";
  for (size_t at = prompt.find(placeholder); at != std::string::npos;
       at = prompt.find(placeholder, at + question.size()))
    prompt.replace(at, placeholder.size(), question);
  return prompt;
}

// The separator is appended as its own piece rather than tokenized with the
// prompt: Gemma and the synthetic tokenizer both keep "\n" a whole piece, so
// the ids equal HF's joint tokenization of prompt + "\n", and truncation can
// cut the prompt without touching the separator.
EncodedText PaliGemmaProcessor::encodeText(const std::string &question,
                                           const std::string &answer,
                                           const std::string &context) const {
  std::vector<int64_t> promptIds = tokenizer_.encode(formatPrompt(question));
  std::vector<int64_t> suffixIds = tokenizer_.encode(answer);
  return layoutTokens(layout_, promptIds, separatorIds_, &suffixIds, context);
}

EncodedText PaliGemmaProcessor::encodePrompt(const std::string &question,
                                             const std::string &context,
                                             int64_t generationBudget) const {
  std::vector<int64_t> promptIds = tokenizer_.encode(formatPrompt(question));
  return layoutTokens(layout_, promptIds, separatorIds_, nullptr, context,
                      generationBudget);
}

Tensor PaliGemmaProcessor::pixelValues(const RgbImage &image) const {
  return toPixelValues(
      resizeBicubic(image, config_.imageSize, config_.imageSize));
}

PaliGemmaProcessor::EncodedExample
PaliGemmaProcessor::encode(const RgbImage &image, const std::string &question,
                           const std::string &answer) const {
  return {encodeText(question, answer), pixelValues(image)};
}

Batch PaliGemmaProcessor::collate(
    const std::vector<const VqaExample *> &examples) const {
  if (config_.maxLength <= 0)
    fail("{}: batches need a fixed max_length", tokenizer_.name());
  int64_t batchSize = static_cast<int64_t>(examples.size());
  int64_t length = config_.maxLength;
  int64_t size = config_.imageSize;
  Batch batch;
  batch.inputIds = Tensor(DType::I64, {batchSize, length});
  batch.attentionMask = Tensor(DType::I64, {batchSize, length});
  batch.tokenTypeIds = Tensor(DType::I64, {batchSize, length});
  batch.labels = Tensor(DType::I64, {batchSize, length});
  batch.pixelValues = Tensor(DType::F32, {batchSize, 3, size, size});
  size_t rowBytes = static_cast<size_t>(length) * sizeof(int64_t);
  for (int64_t b = 0; b < batchSize; ++b) {
    const VqaExample &example = *examples[b];
    EncodedText text =
        encodeText(example.question, example.answer, example.source);
    std::memcpy(batch.inputIds.data<int64_t>() + b * length,
                text.inputIds.data(), rowBytes);
    std::memcpy(batch.attentionMask.data<int64_t>() + b * length,
                text.attentionMask.data(), rowBytes);
    std::memcpy(batch.tokenTypeIds.data<int64_t>() + b * length,
                text.tokenTypeIds.data(), rowBytes);
    std::memcpy(batch.labels.data<int64_t>() + b * length, text.labels.data(),
                rowBytes);
    RgbImage image;
    try {
      image = decodeImageFile(example.imagePath);
    } catch (const Error &e) {
      fail("{}: {}", example.source, e.what());
    }
    writePixelValues(
        resizeBicubic(image, static_cast<int>(size), static_cast<int>(size)),
        batch.pixelValues.data<float>() + b * 3 * size * size);
    batch.referenceAnswers.push_back(
        example.answers.empty() ? std::vector<std::string>{example.answer}
                                : example.answers);
  }
  return batch;
}

CollateFunction PaliGemmaProcessor::collateFunction() const {
  return [processor = *this](const std::vector<const VqaExample *> &examples) {
    return processor.collate(examples);
  };
}

} // namespace pgc
