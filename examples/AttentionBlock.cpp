// Example: one pre-norm decoder block in the style of Gemma, trained to predict the next input.
#include "examples/Examples.h"

#include "dsl/Layers.h"

#include <cmath>

namespace pgc::examples {

using namespace dsl;

namespace {

constexpr int64_t hiddenSize = 32, numHeads = 4, numKvHeads = 1, headDim = 8,
                  mlpSize = 64;

Tensor selfAttention(const Scope &s, Tensor x, Tensor positions, Tensor mask,
                     DType dtype) {
  Tensor q = splitHeads(linear(s["q_proj"], x, numHeads * headDim, false, dtype),
                        numHeads);
  Tensor k = splitHeads(
      linear(s["k_proj"], x, numKvHeads * headDim, false, dtype), numKvHeads);
  Tensor v = splitHeads(
      linear(s["v_proj"], x, numKvHeads * headDim, false, dtype), numKvHeads);
  q = rope(q, positions, 10000.0f);
  k = rope(k, positions, 10000.0f);
  Tensor context = attention(q, k, v, mask, 1.0f / std::sqrt(float(headDim)));
  return linear(s["o_proj"], mergeHeads(context), hiddenSize, false, dtype);
}

Tensor gatedMlp(const Scope &s, Tensor x, DType dtype) {
  Tensor gate = geluTanh(linear(s["gate_proj"], x, mlpSize, false, dtype));
  Tensor up = linear(s["up_proj"], x, mlpSize, false, dtype);
  return linear(s["down_proj"], gate * up, hiddenSize, false, dtype);
}

Tensor norm(const Scope &s, Tensor x) {
  Tensor w = s.param("weight", {x.dim(-1)}, Init::zeros(), x.dtype());
  return rmsNorm(x, w, 1e-6f, /*unitOffset=*/true);
}

} // namespace

void buildAttentionBlock(ModuleBuilder &module, const ExampleOptions &options) {
  int64_t b = options.batch, l = options.seqLen;
  DType dtype = options.dtype;
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {b, l, hiddenSize}, dtype);
  Tensor target = f.input("target", {b, l, hiddenSize}, dtype);
  Scope layer = f.root()["layer"];

  // Causal mask [1, 1, L, L]: query i sees keys j <= i.
  Tensor rows = iota(f, {1, 1, l, l}, 2, DType::I64);
  Tensor cols = iota(f, {1, 1, l, l}, 3, DType::I64);
  Tensor mask = compare(Compare::Le, cols, rows);
  Tensor positions = iota(f, {b, l}, 1, DType::I64);

  Tensor h = x + selfAttention(layer["self_attn"], norm(layer["input_layernorm"], x),
                               positions, mask, dtype);
  Tensor out = h + gatedMlp(layer["mlp"],
                            norm(layer["post_attention_layernorm"], h), dtype);
  // The loss is computed in f32 for 16-bit models (f64 stays f64).
  Tensor error = out - target;
  if (error.dtype() != DType::F64)
    error = error.to(DType::F32);
  Tensor loss = mean(error * error, {0, 1, 2});
  f.finish({{"loss", loss}, {"output", out}});
}

const std::vector<ExampleModel> &exampleModels() {
  static const std::vector<ExampleModel> models = {
      {"mlp", "two-layer perceptron, squared-error loss (16 -> 32 -> 4)",
       buildMlp},
      {"attention", "pre-norm decoder block: GQA attention with RoPE, GeGLU MLP",
       buildAttentionBlock},
  };
  return models;
}

const ExampleModel *findExample(const std::string &name) {
  for (const ExampleModel &model : exampleModels())
    if (model.name == name)
      return &model;
  return nullptr;
}

} // namespace pgc::examples
