// SigLIP: patch and position embeddings, pre-LN encoder layers, post_layernorm.
#include "models/paligemma/Siglip.h"

#include "dsl/Layers.h"

#include <cmath>

namespace pgc::models {

using namespace dsl;

namespace {

// The Conv2d with kernel = stride = patch size is a matmul over patches:
// each patch is cut out (channel, row, column order, as the conv weight is
// laid out) and multiplied by the weight flattened to [hidden, C * P * P].
Tensor patchEmbedding(const Scope &s, Tensor pixelValues,
                      const SiglipVisionConfig &config) {
  int64_t batch = pixelValues.dim(0), channels = config.numChannels,
          patch = config.patchSize, side = config.patchesPerSide();
  DType dtype = pixelValues.dtype();
  Tensor weight = s.param("weight", {config.hiddenSize, channels, patch, patch},
                          Init::normal(0.02), dtype);
  Tensor bias = s.param("bias", {config.hiddenSize}, Init::zeros(), dtype);
  Tensor grid =
      reshape(pixelValues, {batch, channels, side, patch, side, patch});
  Tensor patches = reshape(transpose(grid, {0, 2, 4, 1, 3, 5}),
                           {batch, side * side, channels * patch * patch});
  Tensor flatWeight =
      reshape(weight, {config.hiddenSize, channels * patch * patch});
  return matmul(patches, flatWeight, /*transposeA=*/false,
                /*transposeB=*/true) +
         bias;
}

// Learned absolute positions, one per patch, indexed 0..patches-1 in order.
Tensor embeddings(const Scope &s, Tensor pixelValues,
                  const SiglipVisionConfig &config) {
  Tensor patches = patchEmbedding(s["patch_embedding"], pixelValues, config);
  Tensor positions = s["position_embedding"].param(
      "weight", {config.numPatches(), config.hiddenSize}, Init::normal(0.02),
      patches.dtype());
  return patches + positions;
}

Tensor layerNorm(const Scope &s, Tensor x, const SiglipVisionConfig &config) {
  Tensor weight = s.param("weight", {x.dim(-1)}, Init::ones(), x.dtype());
  Tensor bias = s.param("bias", {x.dim(-1)}, Init::zeros(), x.dtype());
  return dsl::layerNorm(x, weight, bias, float(config.layerNormEps));
}

// Bidirectional multi-head attention over the patches.
Tensor selfAttention(const Scope &s, Tensor x,
                     const SiglipVisionConfig &config) {
  int64_t hidden = config.hiddenSize, heads = config.numAttentionHeads;
  DType dtype = x.dtype();
  Tensor q = splitHeads(linear(s["q_proj"], x, hidden, true, dtype), heads);
  Tensor k = splitHeads(linear(s["k_proj"], x, hidden, true, dtype), heads);
  Tensor v = splitHeads(linear(s["v_proj"], x, hidden, true, dtype), heads);
  int64_t patches = x.dim(1);
  Tensor everyKey =
      full(x.function(), {1, 1, patches, patches}, 1.0, DType::Bool);
  Tensor context = attention(q, k, v, everyKey,
                             float(1.0 / std::sqrt(double(config.headDim()))));
  return linear(s["out_proj"], mergeHeads(context), hidden, true, dtype);
}

Tensor mlp(const Scope &s, Tensor x, const SiglipVisionConfig &config) {
  Tensor h =
      geluTanh(linear(s["fc1"], x, config.intermediateSize, true, x.dtype()));
  return linear(s["fc2"], h, config.hiddenSize, true, x.dtype());
}

Tensor encoderLayer(const Scope &s, Tensor h,
                    const SiglipVisionConfig &config) {
  h = h + selfAttention(s["self_attn"], layerNorm(s["layer_norm1"], h, config),
                        config);
  return h + mlp(s["mlp"], layerNorm(s["layer_norm2"], h, config), config);
}

} // namespace

Tensor siglipVisionModel(const Scope &visionModel, Tensor pixelValues,
                         const SiglipVisionConfig &config) {
  Tensor h = embeddings(visionModel["embeddings"], pixelValues, config);
  Scope layers = visionModel["encoder"]["layers"];
  for (int64_t i = 0; i < config.numHiddenLayers; ++i)
    h = encoderLayer(layers[i], h, config);
  return layerNorm(visionModel["post_layernorm"], h, config);
}

} // namespace pgc::models
