// PaliGemma's forward: image features into the <image> slots, prefix-LM mask,
// 1-based positions, shifted loss.
#include "models/paligemma/PaliGemma.h"

#include "dsl/Layers.h"
#include "models/paligemma/Gemma.h"
#include "models/paligemma/Siglip.h"
#include "runtime/support/Error.h"

#include <cmath>

namespace pgc::models {

using namespace dsl;

namespace {

Tensor scalar(FunctionBuilder &f, double value, DType dtype) {
  return full(f, {}, value, dtype);
}

Tensor multiModalProjector(const Scope &s, Tensor visionFeatures,
                           const PaliGemmaConfig &config) {
  return linear(s["linear"], visionFeatures, config.projectionDim,
                /*bias=*/true, visionFeatures.dtype());
}

// [B, N]: the position of the n-th <image> id in each row. A scatter of the
// token positions into the slot given by each image token's rank keeps this
// O(B * L); every other token writes into a spare slot N, dropped after.
Tensor imageTokenPositions(Tensor inputIds, int64_t imageTokenIndex,
                           int64_t numImageTokens) {
  FunctionBuilder &f = inputIds.function();
  int64_t batch = inputIds.dim(0), length = inputIds.dim(1);
  Tensor isImage = compare(Compare::Eq, inputIds,
                           scalar(f, double(imageTokenIndex), DType::I64));
  Tensor rank = cumsum(cast(isImage, DType::I64), 1) - 1.0;
  Tensor spare = scalar(f, double(numImageTokens), DType::I64);
  Tensor inRange = compare(Compare::Lt, rank, spare);
  Tensor slot = select(isImage, select(inRange, rank, spare), spare);
  Tensor tokenPositions = iota(f, {batch, length, 1}, 1, DType::I64);
  Tensor slots = full(f, {batch, numImageTokens + 1, 1}, 0.0, DType::I64);
  Tensor filled = scatter(slots, slot, tokenPositions);
  return reshape(slice(filled, {0, 0, 0}, {batch, numImageTokens, 1}),
                 {batch, numImageTokens});
}

// Image features enter at the projector's scale: HF divides them by
// sqrt(hidden) here and the decoder multiplies every embedding by it again.
// The division runs in f32 (f64 in the f64 build) with the exact divisor,
// as PyTorch computes a tensor divided by a Python float.
Tensor mergeImageFeatures(Tensor textEmbeds, Tensor imageFeatures,
                          Tensor inputIds, const PaliGemmaConfig &config) {
  double normalizer = std::sqrt(double(config.text.hiddenSize));
  DType exact = textEmbeds.dtype() == DType::F64 ? DType::F64 : DType::F32;
  Tensor scaled = (imageFeatures.to(exact) / normalizer).to(textEmbeds.dtype());
  Tensor positions = imageTokenPositions(inputIds, config.imageTokenIndex,
                                         config.numImageTokens());
  return scatter(textEmbeds, positions, scaled);
}

// 1-based positions counted over real tokens (cumsum of attention_mask);
// pads get 1.
Tensor positionIds(Tensor attentionMask) {
  FunctionBuilder &f = attentionMask.function();
  Tensor isReal = compare(Compare::Ne, attentionMask, scalar(f, 0, DType::I64));
  return select(isReal, cumsum(attentionMask, 1), scalar(f, 1, DType::I64));
}

// [B, 1, L, L], true where query i may attend key j: key j is a real token
// and either belongs to the prefix (token type 0: image, bos, prompt) or
// comes no later than i. Pad keys are never visible, whatever their type.
Tensor prefixLmMask(Tensor attentionMask, Tensor tokenTypeIds) {
  FunctionBuilder &f = attentionMask.function();
  int64_t batch = attentionMask.dim(0), length = attentionMask.dim(1);
  Tensor zero = scalar(f, 0, DType::I64);
  Tensor keyIsReal =
      reshape(compare(Compare::Ne, attentionMask, zero), {batch, 1, 1, length});
  Tensor keyIsPrefix =
      reshape(compare(Compare::Eq, tokenTypeIds, zero), {batch, 1, 1, length});
  Tensor query = iota(f, {1, 1, length, length}, 2, DType::I64);
  Tensor key = iota(f, {1, 1, length, length}, 3, DType::I64);
  Tensor causal = compare(Compare::Le, key, query);
  Tensor never = scalar(f, 0, DType::Bool);
  Tensor always = scalar(f, 1, DType::Bool);
  return select(keyIsReal, select(keyIsPrefix, always, causal), never);
}

// Token i predicts label i + 1. As HF, a label whose position is padding
// (attention_mask 0) does not count, and the mean runs over every counted
// token of the batch, in f32 (f64 for the f64 test build). The labels move
// left and the last position gets ignore_index, rather than the logits
// losing their last row: the same loss to the bit (an ignored row adds
// nothing, and the rows sum in the same order), without a copy of the
// logits and, in the backward pass, of their gradient. The loss reads the
// logits in the compute dtype: cross_entropy computes in f32 from bf16 as
// from their exact f32 cast, and its gradient, rounded once to bf16, is the
// bits the cast's gradient would round to, without the two f32 copies
// (1.1 GiB each for the 3B recipe at batch 4).
Tensor shiftedCrossEntropy(Tensor logits, Tensor labels, Tensor attentionMask,
                           int64_t ignoreIndex) {
  FunctionBuilder &f = logits.function();
  int64_t batch = logits.dim(0), length = logits.dim(1);
  Tensor next = slice(labels, {0, 1}, {batch, length});
  Tensor nextIsReal =
      compare(Compare::Ne, slice(attentionMask, {0, 1}, {batch, length}),
              scalar(f, 0, DType::I64));
  Tensor counted =
      select(nextIsReal, next, scalar(f, double(ignoreIndex), DType::I64));
  Tensor lastPredictsNothing =
      full(f, {batch, 1}, double(ignoreIndex), DType::I64);
  return crossEntropy(logits, concat({counted, lastPredictsNothing}, 1),
                      ignoreIndex);
}

} // namespace

void buildPaliGemmaForward(ModuleBuilder &module, const PaliGemmaConfig &config,
                           const PaliGemmaBuildOptions &options) {
  int64_t batch = options.shape.batch, length = options.shape.seqLen;
  if (batch < 1)
    fail("PaliGemma: batch must be positive, got {}", batch);
  if (length < config.numImageTokens() + 2)
    fail("PaliGemma: sequence length {} cannot hold {} image tokens, <bos> "
         "and a label",
         length, config.numImageTokens());
  if (options.dtype != DType::F32 && options.dtype != DType::BF16 &&
      options.dtype != DType::F64)
    fail("PaliGemma: dtype {} is not supported (f32, bf16; f64 for tests)",
         dtypeName(options.dtype));
  const SiglipVisionConfig &vision = config.vision;
  DType dtype = options.dtype;
  // f64 end to end (the finite-difference tests) keeps the pixels in f64.
  DType pixelDType = dtype == DType::F64 ? DType::F64 : DType::F32;

  FunctionBuilder f(module, "forward");
  Tensor pixelValues =
      f.input("pixel_values",
              {batch, vision.numChannels, vision.imageSize, vision.imageSize},
              pixelDType);
  Tensor inputIds = f.input("input_ids", {batch, length}, DType::I64);
  Tensor attentionMask = f.input("attention_mask", {batch, length}, DType::I64);
  Tensor tokenTypeIds = f.input("token_type_ids", {batch, length}, DType::I64);
  Tensor labels = f.input("labels", {batch, length}, DType::I64);
  Scope root = f.root();

  Tensor visionFeatures = siglipVisionModel(
      root["vision_tower"]["vision_model"], pixelValues.to(dtype), vision);
  Tensor imageFeatures = multiModalProjector(root["multi_modal_projector"],
                                             visionFeatures, config);

  // The <image> ids are looked up as id 0 (newer HF does the same) so that an
  // image_token_index beyond the vocabulary is no error; those rows are
  // overwritten by the image features anyway.
  Scope languageModel = root["language_model"]["model"];
  Tensor isImage =
      compare(Compare::Eq, inputIds,
              scalar(f, double(config.imageTokenIndex), DType::I64));
  Tensor lookupIds = select(isImage, scalar(f, 0, DType::I64), inputIds);
  Tensor textEmbeds =
      gemmaEmbedTokens(languageModel, lookupIds, config.text, dtype);
  Tensor inputsEmbeds =
      mergeImageFeatures(textEmbeds, imageFeatures, inputIds, config);

  Tensor positions = positionIds(attentionMask);
  Tensor mask = prefixLmMask(attentionMask, tokenTypeIds);
  Tensor hidden =
      gemmaModel(languageModel, inputsEmbeds, positions, mask, config.text);
  Tensor logits = gemmaLmHead(languageModel, hidden, config.text);
  Tensor loss =
      shiftedCrossEntropy(logits, labels, attentionMask, config.ignoreIndex);

  std::vector<std::pair<std::string, Tensor>> results = {
      {"loss", loss}, {"logits", logits.to(pixelDType)}};
  if (options.debugOutputs) {
    results.push_back(
        {"debug.vision_last_hidden_state", visionFeatures.to(pixelDType)});
    results.push_back({"debug.image_features", imageFeatures.to(pixelDType)});
    results.push_back({"debug.position_ids", positions});
  }
  f.finish(results);
}

} // namespace pgc::models
