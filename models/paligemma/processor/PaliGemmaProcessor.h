// The PaliGemma processor: the prompt/answer token layout with its masks and
// labels, and the pixels the vision tower sees.
#pragma once

#include "runtime/data/DataLoader.h"
#include "runtime/data/Image.h"
#include "runtime/data/Tokenizer.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// What to do with an example longer than maxLength. The image tokens are
/// never cut (the model needs exactly imageSeqLength of them).
enum class TruncationPolicy {
  /// Drop prompt tokens from the end of the prompt, keeping <bos>, the "\n"
  /// separator, the whole answer and <eos>; refuse if the answer alone does
  /// not fit.
  TruncatePrompt,
  /// Refuse every example that does not fit.
  Refuse,
};

/// The token-level layout, independent of any tokenizer.
struct TokenLayout {
  int64_t imageSeqLength = 256;
  int64_t imageTokenId = 257152;
  int64_t bosId = 2;
  int64_t eosId = 1;
  int64_t padId = 0;
  /// Total length with image tokens (HF's max_length + image_seq_length):
  /// rows are right-padded to it. 0: no padding and no length limit.
  int64_t maxLength = 0;
  TruncationPolicy truncation = TruncationPolicy::TruncatePrompt;
  /// Token type of pads. 1 (as in the golden batch) puts pads in the causal
  /// part, so they stay hidden from real queries even where a kernel ignores
  /// attention_mask; HF's processor uses 0. attention_mask is 0 on pads
  /// either way, and labels are -100.
  int64_t padTokenTypeId = 1;
};

/// One example's rows: input_ids, attention_mask, token_type_ids, labels.
struct EncodedText {
  std::vector<int64_t> inputIds;
  std::vector<int64_t> attentionMask;
  std::vector<int64_t> tokenTypeIds;
  std::vector<int64_t> labels;
  int64_t droppedPromptTokens = 0;
};

/// Lays out imageSeqLength x <image>, <bos>, prompt, separator | suffix,
/// <eos>, pads. Token type 0 and label -100 before the bar, type 1 and the
/// token itself as label after it. Without a suffix (`suffixIds` null) the
/// result is the generation prompt: no <eos>, no padding, and the prompt is
/// cut so that `generationBudget` tokens still fit in maxLength after it (the
/// same truncation training applies, with the answer yet to be generated in
/// place of the known one). `context` names the example in errors.
EncodedText layoutTokens(const TokenLayout &layout,
                         const std::vector<int64_t> &promptIds,
                         const std::vector<int64_t> &separatorIds,
                         const std::vector<int64_t> *suffixIds,
                         const std::string &context,
                         int64_t generationBudget = 0);

struct PaliGemmaProcessorConfig {
  int64_t imageSeqLength = 256;
  /// The <image> id from the model config; it must lie outside the
  /// SentencePiece vocabulary (PaliGemma: 257152, right after it).
  int64_t imageTokenId = 257152;
  int imageSize = 224;
  int64_t maxLength = 0;
  /// "{question}" is replaced by the question; the seed uses this one.
  std::string promptTemplate = "answer {question}";
  TruncationPolicy truncation = TruncationPolicy::TruncatePrompt;
  int64_t padTokenTypeId = 1;
};

class PaliGemmaProcessor {
public:
  /// Special ids come from the tokenizer; "\n" must be one of its pieces.
  /// Throws pgc::Error naming the tokenizer or the setting at fault.
  PaliGemmaProcessor(Tokenizer tokenizer, PaliGemmaProcessorConfig config);

  std::string formatPrompt(const std::string &question) const;
  /// Training form: prompt from the question, answer as suffix.
  EncodedText encodeText(const std::string &question, const std::string &answer,
                         const std::string &context = "example") const;
  /// Generation form: the prompt only, unpadded, truncated as training
  /// truncates so that `generationBudget` new tokens fit after it.
  EncodedText encodePrompt(const std::string &question,
                           const std::string &context = "example",
                           int64_t generationBudget = 0) const;
  /// Resized to imageSize x imageSize (aspect ratio not kept, as SigLIP's
  /// processor does) and normalised: F32 [3, S, S].
  Tensor pixelValues(const RgbImage &image) const;

  struct EncodedExample {
    EncodedText text;
    Tensor pixelValues;
  };
  EncodedExample encode(const RgbImage &image, const std::string &question,
                        const std::string &answer) const;

  /// Decodes each example's image and stacks a training batch: I64 [B, L]
  /// rows (L = maxLength, which must be set) and F32 [B, 3, S, S] pixels.
  Batch collate(const std::vector<const VqaExample *> &examples) const;
  /// collate() bound to a copy of this processor, for a DataLoader.
  CollateFunction collateFunction() const;

  const TokenLayout &layout() const { return layout_; }
  const Tokenizer &tokenizer() const { return tokenizer_; }
  const PaliGemmaProcessorConfig &config() const { return config_; }

private:
  Tokenizer tokenizer_;
  PaliGemmaProcessorConfig config_;
  TokenLayout layout_;
  std::vector<int64_t> separatorIds_;
};

} // namespace pgc
