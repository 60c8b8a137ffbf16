// Gemma: scaled embeddings, RMSNorm (1 + w), grouped-query attention with RoPE,
// GeGLU MLP, tied LM head.
#include "models/paligemma/Gemma.h"

#include "dsl/Layers.h"

#include <cmath>

namespace pgc::models {

using namespace dsl;

namespace {

Tensor embedTable(const Scope &model, const GemmaConfig &config, DType dtype) {
  return model["embed_tokens"].param("weight",
                                     {config.vocabSize, config.hiddenSize},
                                     Init::normal(0.02), dtype);
}

// Gemma stores the scale minus one, so a zero weight is the identity.
Tensor rmsNorm(const Scope &s, Tensor x, const GemmaConfig &config) {
  Tensor weight = s.param("weight", {x.dim(-1)}, Init::zeros(), x.dtype());
  return dsl::rmsNorm(x, weight, float(config.rmsNormEps),
                      /*unitOffset=*/true);
}

// Key/value heads are shared by groups of query heads (pg.attention repeats
// them); heads * head_dim need not equal hidden.
Tensor selfAttention(const Scope &s, Tensor x, Tensor positionIds,
                     Tensor attentionMask, const GemmaConfig &config) {
  int64_t heads = config.numAttentionHeads, kvHeads = config.numKeyValueHeads,
          headDim = config.headDim;
  DType dtype = x.dtype();
  float theta = float(config.ropeTheta);
  Tensor q =
      splitHeads(linear(s["q_proj"], x, heads * headDim, false, dtype), heads);
  Tensor k = splitHeads(linear(s["k_proj"], x, kvHeads * headDim, false, dtype),
                        kvHeads);
  Tensor v = splitHeads(linear(s["v_proj"], x, kvHeads * headDim, false, dtype),
                        kvHeads);
  q = rope(q, positionIds, theta);
  k = rope(k, positionIds, theta);
  Tensor context = attention(q, k, v, attentionMask,
                             float(1.0 / std::sqrt(double(headDim))));
  return linear(s["o_proj"], mergeHeads(context), config.hiddenSize, false,
                dtype);
}

Tensor mlp(const Scope &s, Tensor x, const GemmaConfig &config) {
  DType dtype = x.dtype();
  Tensor gate = geluTanh(
      linear(s["gate_proj"], x, config.intermediateSize, false, dtype));
  Tensor up = linear(s["up_proj"], x, config.intermediateSize, false, dtype);
  return linear(s["down_proj"], gate * up, config.hiddenSize, false, dtype);
}

Tensor decoderLayer(const Scope &s, Tensor h, Tensor positionIds,
                    Tensor attentionMask, const GemmaConfig &config) {
  h = h + selfAttention(s["self_attn"],
                        rmsNorm(s["input_layernorm"], h, config), positionIds,
                        attentionMask, config);
  return h + mlp(s["mlp"], rmsNorm(s["post_attention_layernorm"], h, config),
                 config);
}

} // namespace

Tensor gemmaEmbedTokens(const Scope &model, Tensor inputIds,
                        const GemmaConfig &config, DType dtype) {
  return gather(embedTable(model, config, dtype), inputIds);
}

Tensor gemmaModel(const Scope &model, Tensor inputsEmbeds, Tensor positionIds,
                  Tensor attentionMask, const GemmaConfig &config) {
  // `x * double` makes the normalizer a constant of x's dtype, which rounds
  // sqrt(hidden) exactly as HF's torch.tensor(hidden**0.5, dtype=...) does.
  Tensor h = inputsEmbeds * std::sqrt(double(config.hiddenSize));
  Scope layers = model["layers"];
  for (int64_t i = 0; i < config.numHiddenLayers; ++i)
    h = decoderLayer(layers[i], h, positionIds, attentionMask, config);
  return rmsNorm(model["norm"], h, config);
}

Tensor gemmaLmHead(const Scope &model, Tensor hidden,
                   const GemmaConfig &config) {
  Tensor table = embedTable(model, config, hidden.dtype());
  return matmul(hidden, table, /*transposeA=*/false, /*transposeB=*/true);
}

} // namespace pgc::models
