// The example models of examples/: small DSL programs that pgc compile can build by name.
#pragma once

#include "dsl/Builder.h"

#include <functional>
#include <string>
#include <vector>

namespace pgc::examples {

/// Sizes an example may take from the command line.
struct ExampleOptions {
  int64_t batch = 4;
  int64_t seqLen = 8;
  DType dtype = DType::F32;
};

struct ExampleModel {
  std::string name;
  std::string description;
  /// Builds the `forward` function (inputs -> named results including a
  /// scalar "loss") into the module.
  std::function<void(dsl::ModuleBuilder &, const ExampleOptions &)> build;
};

const std::vector<ExampleModel> &exampleModels();
/// nullptr if no example has this name.
const ExampleModel *findExample(const std::string &name);

/// A two-layer perceptron regressing targets: loss = mean((fc2(gelu(fc1(x))) - y)^2).
void buildMlp(dsl::ModuleBuilder &module, const ExampleOptions &options);
/// A pre-norm decoder block (RMSNorm, grouped-query attention with RoPE and a
/// causal mask, GeGLU MLP) predicting next-step targets with a squared error.
void buildAttentionBlock(dsl::ModuleBuilder &module,
                         const ExampleOptions &options);

} // namespace pgc::examples
