// pg-autodiff's gradients against central finite differences in f64, op by op and for an attention block.
#include "compiler/Lowering/LowerToPlan.h"
#include "dsl/Builder.h"
#include "dsl/Layers.h"
#include "dsl/Ops.h"
#include "examples/Examples.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"

#include "mlir/Pass/PassManager.h"

#include <cmath>
#include <functional>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

using namespace dsl;

// Builds y = body(params) and the loss sum(y * R) for a fixed random R, so
// that every element of y carries a different weight.
using Body = std::function<dsl::Tensor(FunctionBuilder &, Scope)>;

struct Compiled {
  std::unique_ptr<Session> session;
};

Compiled compileWithGradients(const Body &body, uint64_t seed,
                              std::vector<std::string> *paramNames = nullptr) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  FunctionBuilder f(module, "forward");
  dsl::Tensor y = body(f, f.root());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> weights(static_cast<size_t>(y.numel()));
  for (double &w : weights)
    w = dist(rng);
  dsl::Tensor r = constant(f, y.shape(), weights, y.dtype());
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < y.rank(); ++d)
    axes.push_back(d);
  dsl::Tensor weighted = y * r;
  dsl::Tensor loss = axes.empty() ? weighted : sum(weighted, axes);
  f.finish({{"loss", loss}});

  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  Compiled compiled;
  compiled.session =
      std::make_unique<Session>(compiler::lowerToPlan(module.module()));
  if (paramNames)
    for (const PlanParameter &p : compiled.session->plan().parameters)
      paramNames->push_back(p.name);
  return compiled;
}

// Largest |analytic - finite difference| relative to the largest |analytic|
// over every parameter element (all of them: the cases are small).
void expectGradientsMatchFiniteDifferences(const Body &body,
                                           double tolerance = 1e-6) {
  std::vector<std::string> names;
  Compiled compiled = compileWithGradients(body, 11, &names);
  Session &session = *compiled.session;
  session.initializeParameters(5);
  TensorMap outputs = session.run("train_step", {});
  for (const std::string &name : names) {
    const pgc::Tensor &analytic = outputs.at("grad." + name);
    pgc::Tensor value = session.parameter(name).clone();
    ASSERT_EQ(value.dtype(), DType::F64) << name;
    double largest = 0, worst = 0;
    const double step = 1e-6;
    for (int64_t i = 0; i < value.numel(); ++i) {
      double original = value.at(i);
      pgc::Tensor bumped = value.clone();
      bumped.set(i, original + step);
      session.setParameter(name, bumped);
      double plus = session.run("forward", {}).at("loss").at(0);
      bumped.set(i, original - step);
      session.setParameter(name, bumped);
      double minus = session.run("forward", {}).at("loss").at(0);
      double fd = (plus - minus) / (2 * step);
      largest = std::max(largest, std::fabs(analytic.at(i)));
      worst = std::max(worst, std::fabs(analytic.at(i) - fd));
    }
    session.setParameter(name, value);
    EXPECT_GT(largest, 0.0) << name << ": gradient is all zeros";
    EXPECT_LE(worst, tolerance * std::max(largest, 1e-12))
        << name << ": max |analytic - fd| = " << worst << ", max |grad| = "
        << largest;
  }
}

dsl::Tensor param(Scope s, const std::string &name, const Shape &shape,
                  double stddev = 1.0) {
  return s.param(name, shape, Init::normal(stddev), DType::F64);
}

dsl::Tensor positive(Scope s, const std::string &name, const Shape &shape) {
  dsl::Tensor x = param(s, name, shape);
  return x * x + 0.5;
}

TEST(AutodiffFiniteDifferences, ElementwiseBinary) {
  for (Shape shape : {Shape{5}, Shape{2, 3, 4}}) {
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return param(s, "a", shape) + param(s, "b", shape);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return param(s, "a", shape) - param(s, "b", shape);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return param(s, "a", shape) * param(s, "b", shape);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return param(s, "a", shape) / positive(s, "b", shape);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return maximum(param(s, "a", shape), param(s, "b", shape));
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return minimum(param(s, "a", shape), param(s, "b", shape));
    });
  }
}

TEST(AutodiffFiniteDifferences, ElementwiseUnary) {
  Shape shape{3, 4};
  std::vector<std::function<dsl::Tensor(dsl::Tensor)>> functions = {
      [](dsl::Tensor x) { return -x; },
      [](dsl::Tensor x) { return exp(x); },
      [](dsl::Tensor x) { return log(x * x + 0.5); },
      [](dsl::Tensor x) { return sqrt(x * x + 0.5); },
      [](dsl::Tensor x) { return rsqrt(x * x + 0.5); },
      [](dsl::Tensor x) { return tanh(x); },
      [](dsl::Tensor x) { return geluTanh(x); },
  };
  for (auto &fn : functions)
    expectGradientsMatchFiniteDifferences(
        [&](FunctionBuilder &, Scope s) { return fn(param(s, "x", shape)); });
}

TEST(AutodiffFiniteDifferences, SelectAndBroadcast) {
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    dsl::Tensor a = param(s, "a", {2, 3}), b = param(s, "b", {3});
    dsl::Tensor cond = compare(Compare::Gt, iota(f, {2, 3}, 1, DType::F64),
                               full(f, {2, 3}, 0.5, DType::F64));
    return select(cond, a, b); // b broadcasts over rows
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return broadcastTo(param(s, "a", {3, 1}), {2, 3, 4});
  });
}

TEST(AutodiffFiniteDifferences, Reductions) {
  for (bool keep : {false, true}) {
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return sum(param(s, "x", {2, 3, 4}), {0, 2}, keep);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return mean(param(s, "x", {2, 3, 4}), {1}, keep);
    });
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return max(param(s, "x", {2, 3, 4}), {2}, keep);
    });
  }
}

TEST(AutodiffFiniteDifferences, MatmulAllLayouts) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      // Batched with a batched rhs.
      expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
        dsl::Tensor a = param(s, "a", ta ? Shape{2, 4, 3} : Shape{2, 3, 4});
        dsl::Tensor b = param(s, "b", tb ? Shape{2, 5, 4} : Shape{2, 4, 5});
        return matmul(a, b, ta, tb);
      });
      // Batched lhs with a shared rank-2 rhs (a linear layer).
      expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
        dsl::Tensor a = param(s, "a", ta ? Shape{2, 3, 4, 3} : Shape{2, 3, 3, 4});
        dsl::Tensor b = param(s, "b", tb ? Shape{5, 4} : Shape{4, 5});
        return matmul(a, b, ta, tb);
      });
    }
}

TEST(AutodiffFiniteDifferences, ShapeOps) {
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return reshape(param(s, "x", {2, 6}), {3, 4});
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return transpose(param(s, "x", {2, 3, 4}), {2, 0, 1});
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return slice(param(s, "x", {4, 5}), {1, 0}, {3, 4});
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return concat({param(s, "a", {2, 3}), param(s, "b", {2, 2})}, 1);
  });
}

TEST(AutodiffFiniteDifferences, GatherAndScatter) {
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    // Repeated ids accumulate into one row.
    dsl::Tensor ids = constant(f, {2, 3}, {1, 4, 1, 0, 4, 4}, DType::I64);
    return gather(param(s, "table", {5, 3}), ids);
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    dsl::Tensor idx = constant(f, {2, 2}, {0, 2, 3, 1}, DType::I64);
    return scatter(param(s, "dest", {2, 4, 3}), idx,
                   param(s, "updates", {2, 2, 3}));
  });
}

TEST(AutodiffFiniteDifferences, SoftmaxAndNorms) {
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return softmax(param(s, "x", {3, 5}), -1);
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return softmax(param(s, "x", {3, 5}), 0);
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &, Scope s) {
    return layerNorm(param(s, "x", {2, 3, 6}), param(s, "w", {6}),
                     param(s, "b", {6}), 1e-6f);
  });
  for (bool unit : {false, true})
    expectGradientsMatchFiniteDifferences([&](FunctionBuilder &, Scope s) {
      return rmsNorm(param(s, "x", {2, 3, 6}), param(s, "w", {6}), 1e-6f,
                     unit);
    });
}

TEST(AutodiffFiniteDifferences, RopeAttentionAndLoss) {
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    dsl::Tensor pos = constant(f, {2, 3}, {1, 2, 3, 1, 1, 2}, DType::I64);
    return rope(param(s, "x", {2, 2, 3, 8}), pos, 10000.0f);
  });
  // Grouped-query attention with a prefix-LM mask and a padded key.
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    std::vector<double> allowed = {1, 1, 0, 0, //
                                   1, 1, 0, 0, //
                                   1, 1, 1, 0, //
                                   1, 1, 1, 0};
    dsl::Tensor mask = compare(Compare::Gt, constant(f, {1, 1, 4, 4}, allowed, DType::F64),
                               full(f, {1, 1, 4, 4}, 0.5, DType::F64));
    return attention(param(s, "q", {2, 4, 4, 3}), param(s, "k", {2, 2, 4, 3}),
                     param(s, "v", {2, 2, 4, 5}), mask, 0.6f);
  });
  // An additive mask per head.
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    std::vector<double> bias(2 * 3 * 3);
    for (size_t i = 0; i < bias.size(); ++i)
      bias[i] = (i % 4 == 3) ? -1e9 : 0.1 * i;
    dsl::Tensor mask = constant(f, {1, 2, 3, 3}, bias, DType::F64);
    return attention(param(s, "q", {1, 2, 3, 4}), param(s, "k", {1, 1, 3, 4}),
                     param(s, "v", {1, 1, 3, 4}), mask, 0.5f);
  });
  expectGradientsMatchFiniteDifferences([](FunctionBuilder &f, Scope s) {
    dsl::Tensor labels = constant(f, {4}, {2, -100, 0, 6}, DType::I64);
    return crossEntropy(param(s, "logits", {4, 7}), labels);
  });
}

TEST(AutodiffFiniteDifferences, AttentionBlockEndToEnd) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  examples::ExampleOptions options;
  options.batch = 2;
  options.seqLen = 3;
  options.dtype = DType::F64;
  examples::buildAttentionBlock(module, options);
  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  ASSERT_TRUE(mlir::succeeded(pm.run(module.module())));
  Session session(compiler::lowerToPlan(module.module()));
  session.initializeParameters(3);
  // Non-zero norm weights so that their gradients are not special.
  for (const PlanParameter &p : session.plan().parameters) {
    pgc::Tensor value = session.parameter(p.name).clone();
    std::mt19937_64 rng(std::hash<std::string>()(p.name));
    std::normal_distribution<double> dist(0.0, 0.3);
    for (int64_t i = 0; i < value.numel(); ++i)
      value.set(i, value.at(i) + dist(rng));
    session.setParameter(p.name, value);
  }
  std::mt19937_64 rng(9);
  std::normal_distribution<double> dist;
  TensorMap inputs;
  for (const char *name : {"x", "target"}) {
    pgc::Tensor t(DType::F64, {2, 3, 32});
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, dist(rng));
    inputs[name] = t;
  }
  TensorMap outputs = session.run("train_step", inputs);
  for (const PlanParameter &p : session.plan().parameters) {
    const pgc::Tensor &analytic = outputs.at("grad." + p.name);
    pgc::Tensor value = session.parameter(p.name).clone();
    double largest = 0, worst = 0;
    // Every 7th element keeps the test fast while touching all rows.
    for (int64_t i = 0; i < value.numel(); i += 7) {
      double original = value.at(i);
      pgc::Tensor bumped = value.clone();
      bumped.set(i, original + 1e-6);
      session.setParameter(p.name, bumped);
      double plus = session.run("forward", inputs).at("loss").at(0);
      bumped.set(i, original - 1e-6);
      session.setParameter(p.name, bumped);
      double minus = session.run("forward", inputs).at("loss").at(0);
      largest = std::max(largest, std::fabs(analytic.at(i)));
      worst = std::max(worst, std::fabs(analytic.at(i) - (plus - minus) / 2e-6));
    }
    session.setParameter(p.name, value);
    EXPECT_LE(worst, 1e-6 * largest) << p.name;
  }
}

} // namespace
} // namespace pgc
