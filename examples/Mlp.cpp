// Example: a two-layer perceptron with a mean-squared-error loss.
#include "examples/Examples.h"

#include "dsl/Layers.h"

namespace pgc::examples {

using namespace dsl;

void buildMlp(ModuleBuilder &module, const ExampleOptions &options) {
  constexpr int64_t inFeatures = 16, hidden = 32, outFeatures = 4;
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {options.batch, inFeatures}, options.dtype);
  Tensor y = f.input("y", {options.batch, outFeatures}, options.dtype);
  Scope model = f.root();

  Tensor h = geluTanh(linear(model["fc1"], x, hidden, /*bias=*/true,
                             options.dtype));
  Tensor out = linear(model["fc2"], h, outFeatures, /*bias=*/true,
                      options.dtype);
  // The loss is computed in f32 for 16-bit models (f64 stays f64).
  Tensor error = out - y;
  if (error.dtype() != DType::F64)
    error = error.to(DType::F32);
  Tensor loss = mean(error * error, {0, 1});
  f.finish({{"loss", loss}, {"output", out}});
}

} // namespace pgc::examples
