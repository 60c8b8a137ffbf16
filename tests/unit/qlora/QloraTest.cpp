// QLoRA checks: policies, LoRA outputs and gradients against hand-written f64
// references and finite differences, NF4 parameters through the Session bit for
// bit against runtime/quant, and the PaliGemma-3B parameter counts.
#include "compiler/Lowering/LowerToPlan.h"
#include "compiler/Policy/Policy.h"
#include "compiler/Policy/PolicySummary.h"
#include "dsl/Builder.h"
#include "dsl/Layers.h"
#include "dsl/Ops.h"
#include "models/paligemma/Config.h"
#include "models/paligemma/PaliGemma.h"
#include "passes/Passes.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/exec/Session.h"
#include "runtime/quant/Nf4.h"
#include "runtime/support/Error.h"
#include "tests/unit/qlora/GradientCheck.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "tests/unit/ScratchSpace.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

using namespace dsl;

std::string writePolicy(const std::string &name, const std::string &text) {
  std::string path = pgc::unittest::uniqueScratchPath(name);
  std::ofstream(path) << text;
  return path;
}

pgc::Tensor randomTensor(DType dtype, const Shape &shape, uint64_t seed,
                         double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, scale);
  pgc::Tensor t(DType::F64, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, dist(rng));
  return t.to(dtype);
}

// Runs the policy passes (and optionally autodiff) and collects diagnostics.
struct Pipeline {
  std::string policy;
  bool lora = true, quantize = false, autodiff = false;
};

mlir::LogicalResult runPasses(mlir::ModuleOp module, const Pipeline &p,
                              std::string *diagnostics = nullptr) {
  mlir::ScopedDiagnosticHandler handler(module.getContext(),
                                        [&](mlir::Diagnostic &d) {
                                          if (diagnostics)
                                            *diagnostics += d.str() + "\n";
                                          return mlir::success();
                                        });
  mlir::PassManager pm(module.getContext());
  if (p.lora) {
    mlir::pg::PgInsertLoraOptions options;
    options.policy = p.policy;
    pm.addPass(mlir::pg::createPgInsertLora(options));
  }
  if (p.quantize) {
    mlir::pg::PgQuantizeNf4Options options;
    options.policy = p.policy;
    pm.addPass(mlir::pg::createPgQuantizeNf4(options));
  }
  if (p.autodiff) {
    mlir::pg::PgAutodiffOptions options;
    options.trainableOnly = true;
    pm.addPass(mlir::pg::createPgAutodiff(options));
  }
  return pm.run(module);
}

// x [2, 3, 6] -> q_proj (6 -> 5, bias) -> gelu -> down_proj (5 -> 4), and
// loss = sum(y * R) for a fixed R.
constexpr int64_t kIn = 6, kMid = 5, kOut = 4;
void buildBlock(ModuleBuilder &module, DType dtype) {
  FunctionBuilder f(module, "forward");
  dsl::Tensor x = f.input("x", {2, 3, kIn}, dtype);
  Scope root = f.root();
  dsl::Tensor h = linear(root["enc"]["self_attn"]["q_proj"], x, kMid,
                         /*bias=*/true, dtype);
  dsl::Tensor y = linear(root["dec"]["mlp"]["down_proj"], geluTanh(h), kOut,
                         /*bias=*/false, dtype);
  pgc::Tensor r = randomTensor(DType::F64, {2, 3, kOut}, 99);
  std::vector<double> weights(r.data<double>(), r.data<double>() + r.numel());
  dsl::Tensor loss =
      sum(y * constant(f, {2, 3, kOut}, weights, dtype), {0, 1, 2});
  f.finish({{"y", y}, {"loss", loss}});
}

const char *kLoraPolicy = "freeze: [\"**\"]\n"
                          "lora: {r: 3, alpha: 7.5, targets: [q_proj, "
                          "down_proj]}\n";

std::unique_ptr<Session> compileBlock(DType dtype, const std::string *policy,
                                      bool autodiff = false) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  buildBlock(module, dtype);
  if (policy) {
    Pipeline p{*policy, true, false, autodiff};
    EXPECT_TRUE(mlir::succeeded(runPasses(module.module(), p)));
  }
  return std::make_unique<Session>(compiler::lowerToPlan(module.module()));
}

TEST(InsertLora, ZeroBLeavesTheModelBitIdentical) {
  std::string policy = writePolicy("zero-b.yaml", kLoraPolicy);
  for (DType dtype : {DType::BF16, DType::F32}) {
    auto base = compileBlock(dtype, nullptr);
    auto lora = compileBlock(dtype, &policy);
    base->initializeParameters(3);
    lora->initializeParameters(3);
    // The base parameters draw the same values in both (name-keyed streams).
    ASSERT_EQ(
        0,
        std::memcmp(base->parameter("enc.self_attn.q_proj.weight").raw(),
                    lora->parameter("enc.self_attn.q_proj.weight").raw(),
                    base->parameter("enc.self_attn.q_proj.weight").byteSize()));
    pgc::Tensor x = randomTensor(dtype, {2, 3, kIn}, 1);
    pgc::Tensor a = base->run("forward", {{"x", x}}).at("y");
    pgc::Tensor b = lora->run("forward", {{"x", x}}).at("y");
    ASSERT_EQ(a.byteSize(), b.byteSize());
    EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.byteSize()))
        << dtypeName(dtype);
    // And A really is non-zero, so the zero comes from B alone.
    const pgc::Tensor &loraA =
        lora->parameter("enc.self_attn.q_proj.lora_A.weight");
    double largest = 0;
    for (int64_t i = 0; i < loraA.numel(); ++i)
      largest = std::max(largest, std::fabs(loraA.at(i)));
    EXPECT_GT(largest, 0.1);
  }
}

TEST(InsertLora, InitialisationIsKaimingUniformAndReproducible) {
  std::string policy = writePolicy("init.yaml", kLoraPolicy);
  auto one = compileBlock(DType::F32, &policy);
  auto two = compileBlock(DType::F32, &policy);
  one->initializeParameters(11);
  two->initializeParameters(11);
  const pgc::Tensor &a = one->parameter("dec.mlp.down_proj.lora_A.weight");
  ASSERT_EQ(a.shape(), (Shape{3, kMid}));
  EXPECT_EQ(a.dtype(), DType::F32);
  double bound = 1.0 / std::sqrt(double(kMid)), largest = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_LE(std::fabs(a.at(i)), bound);
    largest = std::max(largest, std::fabs(a.at(i)));
  }
  EXPECT_GT(largest, bound / 2); // uses the range, not a tiny part of it
  EXPECT_EQ(0,
            std::memcmp(a.raw(),
                        two->parameter("dec.mlp.down_proj.lora_A.weight").raw(),
                        a.byteSize()));
  const pgc::Tensor &b = one->parameter("dec.mlp.down_proj.lora_B.weight");
  ASSERT_EQ(b.shape(), (Shape{kOut, 3}));
  for (int64_t i = 0; i < b.numel(); ++i)
    EXPECT_EQ(b.at(i), 0.0);
  two->initializeParameters(12);
  EXPECT_NE(0,
            std::memcmp(a.raw(),
                        two->parameter("dec.mlp.down_proj.lora_A.weight").raw(),
                        a.byteSize()));
}

// y = W x + b + (alpha / r) B A x, written out in f64 loops from the
// session's parameter values.
TEST(InsertLora, ForwardMatchesHandWrittenReference) {
  std::string policy = writePolicy("forward.yaml", kLoraPolicy);
  auto session = compileBlock(DType::F64, &policy);
  session->initializeParameters(5);
  for (const char *name : {"enc.self_attn.q_proj.lora_B.weight",
                           "dec.mlp.down_proj.lora_B.weight"})
    session->setParameter(
        name, randomTensor(DType::F64, session->parameter(name).shape(), 7));
  pgc::Tensor x = randomTensor(DType::F64, {2, 3, kIn}, 8);
  pgc::Tensor y = session->run("forward", {{"x", x}}).at("y");
  const double scaling = 7.5 / 3;
  auto linearRef = [&](const std::string &module, const std::vector<double> &in,
                       int64_t nIn, int64_t nOut, bool bias) {
    const pgc::Tensor &w = session->parameter(module + ".weight");
    const pgc::Tensor &a = session->parameter(module + ".lora_A.weight");
    const pgc::Tensor &b = session->parameter(module + ".lora_B.weight");
    std::vector<double> out(nOut), down(3);
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t i = 0; i < nIn; ++i)
        down[k] += a.at(k * nIn + i) * in[i];
    for (int64_t o = 0; o < nOut; ++o) {
      double base = bias ? session->parameter(module + ".bias").at(o) : 0.0;
      for (int64_t i = 0; i < nIn; ++i)
        base += w.at(o * nIn + i) * in[i];
      double update = 0;
      for (int64_t k = 0; k < 3; ++k)
        update += b.at(o * 3 + k) * down[k];
      out[o] = base + scaling * update;
    }
    return out;
  };
  double worst = 0;
  for (int64_t row = 0; row < 6; ++row) {
    std::vector<double> in(x.data<double>() + row * kIn,
                           x.data<double>() + (row + 1) * kIn);
    std::vector<double> h =
        linearRef("enc.self_attn.q_proj", in, kIn, kMid, true);
    for (double &v : h) // gelu, tanh approximation
      v = 0.5 * v *
          (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    std::vector<double> out =
        linearRef("dec.mlp.down_proj", h, kMid, kOut, false);
    for (int64_t o = 0; o < kOut; ++o)
      worst = std::max(worst, std::fabs(out[o] - y.at(row * kOut + o)));
  }
  EXPECT_LT(worst, 1e-12);
}

TEST(InsertLora, GradientsMatchFiniteDifferences) {
  std::string policy = writePolicy("grad.yaml", kLoraPolicy);
  auto session = compileBlock(DType::F64, &policy, /*autodiff=*/true);
  session->initializeParameters(5);
  std::vector<std::string> adapters = {"enc.self_attn.q_proj.lora_A.weight",
                                       "enc.self_attn.q_proj.lora_B.weight",
                                       "dec.mlp.down_proj.lora_A.weight",
                                       "dec.mlp.down_proj.lora_B.weight"};
  // Non-zero B so that A's gradient is not zero too.
  for (const std::string &name : adapters)
    if (name.find("lora_B") != std::string::npos)
      session->setParameter(
          name, randomTensor(DType::F64, session->parameter(name).shape(), 17));
  pgc::Tensor x = randomTensor(DType::F64, {2, 3, kIn}, 8);
  TensorMap outputs = session->run("train_step", {{"x", x}});
  // Only the adapters train: the frozen base weights get no gradient.
  EXPECT_EQ(outputs.count("grad.enc.self_attn.q_proj.weight"), 0u);
  EXPECT_EQ(outputs.count("grad.enc.self_attn.q_proj.bias"), 0u);
  for (const std::string &name : adapters) {
    test::expectGradientMatchesFiniteDifferences(
        *session, name, outputs.at("grad." + name), [&] {
          return session->run("forward", {{"x", x}}).at("loss").at(0);
        });
  }
}

// y = I W^T = W^T exactly (products with 1 and sums with 0 are exact), so
// the forward output shows the dequantized weight bit for bit.
struct Nf4Model {
  std::unique_ptr<Session> session;
};

Nf4Model compileNf4(DType dtype, int64_t out, int64_t in,
                    const std::string &quantize) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  FunctionBuilder f(module, "forward");
  dsl::Tensor x = f.input("x", {in, in}, dtype);
  dsl::Tensor y = linear(f.root()["mlp"]["fc1"], x, out, false, dtype);
  f.finish({{"y", y}});
  Nf4Model model;
  if (!quantize.empty()) {
    std::string policy = writePolicy(
        "nf4.yaml", "freeze: [\"**\"]\nquantize: " + quantize + "\n");
    Pipeline p{policy, false, true, false};
    EXPECT_TRUE(mlir::succeeded(runPasses(module.module(), p)));
  }
  model.session =
      std::make_unique<Session>(compiler::lowerToPlan(module.module()));
  return model;
}

pgc::Tensor identity(DType dtype, int64_t n) {
  pgc::Tensor eye(DType::F32, {n, n});
  for (int64_t i = 0; i < n; ++i)
    eye.data<float>()[i * n + i] = 1.0f;
  return eye.to(dtype);
}

void expectTransposeEquals(const pgc::Tensor &y, const pgc::Tensor &expected) {
  int64_t out = expected.dim(0), in = expected.dim(1);
  ASSERT_EQ(y.shape(), (Shape{in, out}));
  ASSERT_EQ(y.dtype(), expected.dtype());
  size_t size = dtypeSize(y.dtype());
  int64_t mismatches = 0;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      mismatches +=
          std::memcmp(static_cast<const char *>(y.raw()) + (i * out + o) * size,
                      static_cast<const char *>(expected.raw()) +
                          (o * in + i) * size,
                      size) != 0;
  EXPECT_EQ(mismatches, 0);
}

TEST(Nf4Parameters, SetParameterAndDequantMatchRuntimeQuantBitForBit) {
  struct Case {
    DType dtype;
    int64_t out, in;
    int64_t block;
    bool doubleQuant;
  };
  // 100-element rows (not a multiple of 64), a ragged last block, and 300
  // blocks so that double quantization uses two second-level blocks.
  for (Case c :
       {Case{DType::F32, 5, 100, 64, true}, Case{DType::F32, 5, 100, 64, false},
        Case{DType::BF16, 7, 33, 32, true},
        Case{DType::F32, 300, 64, 64, true}}) {
    std::string quantize =
        fmt::format("{{nf4: [fc1], block: {}, double_quant: {}, "
                    "compute_dtype: auto}}",
                    c.block, c.doubleQuant ? "true" : "false");
    Nf4Model model = compileNf4(c.dtype, c.out, c.in, quantize);
    const PlanParameter *param =
        model.session->plan().findParameter("mlp.fc1.weight");
    ASSERT_TRUE(param && param->nf4);
    EXPECT_EQ(param->nf4->shape, (Shape{c.out, c.in}));
    const pgc::Tensor &storage = model.session->parameter("mlp.fc1.weight");
    EXPECT_EQ(storage.dtype(), DType::U8);
    Nf4Layout layout{c.out * c.in, c.block, c.doubleQuant};
    EXPECT_EQ(storage.numel(), layout.totalBytes());

    pgc::Tensor weight = randomTensor(c.dtype, {c.out, c.in}, 21, 0.05);
    model.session->setParameter("mlp.fc1.weight", weight);
    quant::Nf4Options options;
    options.blockSize = c.block;
    options.doubleQuant = c.doubleQuant;
    pgc::Tensor expected =
        quant::dequantizeNf4(quant::quantizeNf4(weight, options, "w"), c.dtype);
    pgc::Tensor y =
        model.session->run("forward", {{"x", identity(c.dtype, c.in)}}).at("y");
    expectTransposeEquals(y, expected);
  }
}

TEST(Nf4Parameters, InitialisationDrawsThenQuantizes) {
  std::string quantize = "{nf4: [fc1], block: 64, double_quant: true}";
  Nf4Model plain = compileNf4(DType::F32, 6, 70, "");
  Nf4Model nf4 = compileNf4(DType::F32, 6, 70, quantize);
  plain.session->initializeParameters(4);
  nf4.session->initializeParameters(4);
  EXPECT_TRUE(nf4.session->unsetParameters().empty());
  quant::Nf4Options options;
  pgc::Tensor expected = quant::dequantizeNf4(
      quant::quantizeNf4(plain.session->parameter("mlp.fc1.weight"), options,
                         "w"),
      DType::F32);
  pgc::Tensor y =
      nf4.session->run("forward", {{"x", identity(DType::F32, 70)}}).at("y");
  expectTransposeEquals(y, expected);
}

TEST(Nf4Parameters, StorageBytesRoundTripAndBadShapesFail) {
  std::string quantize = "{nf4: [fc1], block: 64, double_quant: true}";
  Nf4Model one = compileNf4(DType::F32, 4, 90, quantize);
  Nf4Model two = compileNf4(DType::F32, 4, 90, quantize);
  one.session->setParameter("mlp.fc1.weight",
                            randomTensor(DType::F32, {4, 90}, 2));
  // The u8 storage itself loads unchanged (a saved quantized parameter).
  two.session->setParameter("mlp.fc1.weight",
                            one.session->parameter("mlp.fc1.weight"));
  pgc::Tensor eye = identity(DType::F32, 90);
  pgc::Tensor a = one.session->run("forward", {{"x", eye}}).at("y");
  pgc::Tensor b = two.session->run("forward", {{"x", eye}}).at("y");
  EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.byteSize()));
  try {
    one.session->setParameter("mlp.fc1.weight",
                              randomTensor(DType::F32, {90, 4}, 2));
    FAIL() << "a transposed weight was accepted";
  } catch (const pgc::Error &e) {
    EXPECT_NE(std::string(e.what()).find("mlp.fc1.weight"), std::string::npos)
        << e.what();
  }
}

// pg-rematerialize with max-distance 0 gives every use of an NF4 weight its
// own dequantization, and of a widening cast its own cast: the training step
// must compute the same bits (both are pure functions of their operand), with
// more dequant_nf4 steps and never a larger arena.
TEST(Rematerialize, TrainStepIsBitIdenticalWithOwnDequantizations) {
  std::string policy = writePolicy(
      "remat.yaml", std::string(kLoraPolicy) +
                        "quantize: {nf4: [q_proj, down_proj], block: 64, "
                        "double_quant: true}\n");
  struct Compiled {
    Plan plan;
    size_t dequantSteps = 0;
    TensorMap outputs;
  };
  auto compile = [&](bool rematerialize) {
    mlir::MLIRContext context;
    ModuleBuilder module(context);
    buildBlock(module, DType::BF16);
    Pipeline p{policy, true, true, true};
    EXPECT_TRUE(mlir::succeeded(runPasses(module.module(), p)));
    if (rematerialize) {
      mlir::PassManager pm(&context);
      mlir::pg::PgRematerializeOptions options;
      options.maxDistance = 0;
      pm.addPass(mlir::pg::createPgRematerialize(options));
      EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
    }
    Compiled c{compiler::lowerToPlan(module.module()), 0, {}};
    for (const PlanStep &step : c.plan.findEntryPoint("train_step")->steps)
      c.dequantSteps += step.op == "dequant_nf4";
    Session session(c.plan);
    session.initializeParameters(5);
    for (const PlanParameter &param : c.plan.parameters)
      if (param.name.find("lora_B") != std::string::npos)
        session.setParameter(param.name,
                             randomTensor(DType::F32,
                                          session.parameter(param.name).shape(),
                                          17));
    c.outputs = session.run("train_step",
                            {{"x", randomTensor(DType::BF16, {2, 3, kIn}, 8)}});
    return c;
  };
  Compiled kept = compile(false), again = compile(true);
  // The down_proj weight feeds the forward matmul and the backward one that
  // carries the gradient to q_proj's adapter.
  EXPECT_EQ(kept.dequantSteps, 2u);
  EXPECT_EQ(again.dequantSteps, 3u);
  ASSERT_EQ(kept.outputs.size(), again.outputs.size());
  for (const auto &[name, value] : kept.outputs) {
    const pgc::Tensor &other = again.outputs.at(name);
    ASSERT_EQ(value.byteSize(), other.byteSize()) << name;
    EXPECT_EQ(0, std::memcmp(value.raw(), other.raw(), value.byteSize()))
        << name;
  }
  const PlanEntryPoint &keptStep = *kept.plan.findEntryPoint("train_step");
  const PlanEntryPoint &againStep = *again.plan.findEntryPoint("train_step");
  EXPECT_LE(planArena(again.plan, againStep).bytes,
            planArena(kept.plan, keptStep).bytes);
}

TEST(Policy, ReadsLoraAndQuantizeSections) {
  Policy p = Policy::fromYamlString(
      "freeze: [\"**\"]\n"
      "lora: {r: 16, lora_alpha: 32, targets: [q_proj, "
      "\"vision_tower.**.fc1\"], "
      "rslora: true}\n"
      "quantize: {nf4: [\"**.fc2\"], block: 128, double_quant: false, "
      "compute_dtype: f32}\n",
      "p.yaml");
  ASSERT_TRUE(p.lora() && p.quantize());
  EXPECT_DOUBLE_EQ(p.lora()->scaling(), 8.0); // 32 / sqrt(16)
  EXPECT_TRUE(p.lora()->selects("vision_tower.vision_model.encoder.layers.3."
                                "self_attn.q_proj"));
  EXPECT_TRUE(p.lora()->selects("q_proj"));
  EXPECT_FALSE(p.lora()->selects("layers.0.self_attn.xq_proj"));
  EXPECT_TRUE(p.lora()->selects("vision_tower.a.b.fc1"));
  EXPECT_FALSE(p.lora()->selects("language_model.a.fc1"));
  EXPECT_EQ(p.quantize()->block, 128);
  EXPECT_FALSE(p.quantize()->doubleQuant);
  // Adapters train, the base weights they wrap freeze, the rest by rules.
  EXPECT_TRUE(p.isTrainable("a.q_proj.lora_A.weight"));
  EXPECT_FALSE(p.isTrainable("a.q_proj.weight"));
  EXPECT_FALSE(p.isTrainable("a.norm.weight"));
}

TEST(Policy, ReadsPeftAdapterConfig) {
  std::string path = writePolicy(
      "adapter_config.json",
      R"({"peft_type": "LORA", "r": 4, "lora_alpha": 16, "lora_dropout": 0.0,
          "target_modules": ".*\\.(q|v)_proj", "use_rslora": false,
          "bias": "none", "modules_to_save": null, "task_type": "CAUSAL_LM",
          "base_model_name_or_path": "google/paligemma-3b-pt-224"})");
  Policy p = Policy::fromYamlFile(path);
  ASSERT_TRUE(p.lora());
  EXPECT_EQ(p.lora()->r, 4);
  EXPECT_DOUBLE_EQ(p.lora()->scaling(), 4.0);
  EXPECT_TRUE(p.lora()->selects("layers.0.self_attn.v_proj"));
  EXPECT_FALSE(p.lora()->selects("layers.0.self_attn.k_proj"));
  EXPECT_FALSE(p.isTrainable("layers.0.mlp.fc1.weight")); // freeze everything
}

// Found by fuzz_policy (a libFuzzer timeout in CI): std::regex backtracks
// exponentially on nested stars. RE2 answers in time linear in the name.
TEST(Policy, TargetRegexMatchesTheWholeNameInLinearTime) {
  Policy p = Policy::fromAdapterConfigString(
      R"({"r": 2, "target_modules": "(.*)*(.*)*(.*)*(.*)*(.*)*x"})", "a.json");
  ASSERT_TRUE(p.lora());
  std::string longName(4000, 'a');
  EXPECT_FALSE(p.lora()->selects(longName));
  EXPECT_TRUE(p.lora()->selects(longName + "x"));
  // re.fullmatch semantics: the pattern must cover the whole module name.
  Policy q = Policy::fromAdapterConfigString(
      R"({"r": 2, "target_modules": "q_proj|.*\\.v_proj"})", "a.json");
  EXPECT_TRUE(q.lora()->selects("q_proj"));
  EXPECT_FALSE(q.lora()->selects("layers.0.q_proj"));
  EXPECT_TRUE(q.lora()->selects("layers.0.v_proj"));
  EXPECT_FALSE(q.lora()->selects("layers.0.v_proj.x"));
  // Back to the first policy: its own pattern answers, not the last one used.
  EXPECT_FALSE(p.lora()->selects("layers.0.v_proj"));
  EXPECT_TRUE(p.lora()->selects("layers.0.v_proj.x"));
}

TEST(Policy, BadPoliciesFailNamingTheKey) {
  auto expectFailure = [](const std::string &text, const std::string &what,
                          const std::string &needle) {
    try {
      if (what.size() > 5 && what.substr(what.size() - 5) == ".json")
        Policy::fromAdapterConfigString(text, what);
      else
        Policy::fromYamlString(text, what);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const pgc::Error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << e.what();
    }
  };
  expectFailure("freez: [\"**\"]\n", "p.yaml",
                "p.yaml:1: unknown policy key 'freez'");
  // Found by fuzz_policy: a mapping or list as a key threw yaml-cpp's
  // exception instead of a pgc::Error.
  expectFailure("{\"r\": 4, \"use_qalora\": 1}: 2\n", "p.yaml",
                "p.yaml:1: keys must be plain names, not a mapping");
  expectFailure("lora: {[r]: 4}\n", "p.yaml",
                "p.yaml:1: keys must be plain names, not a list");
  expectFailure(R"({"r": 8, "target_modules": ["q"], {"a": 1}: 2})", "a.json",
                "keys must be plain names, not a mapping");
  expectFailure("lora: {r: 0, targets: [q_proj]}\n", "p.yaml",
                "lora r must be");
  expectFailure("lora: {r: 8}\n", "p.yaml", "lora needs targets");
  expectFailure("lora: {r: 8, targets: [q], init: pissa}\n", "p.yaml",
                "unknown lora key 'init'");
  expectFailure("quantize: {nf4: [fc1], compute_dtype: f8}\n", "p.yaml",
                "compute_dtype must be");
  expectFailure("quantize: {nf4: [fc1], bits: 4}\n", "p.yaml",
                "unknown quantize key 'bits'");
  expectFailure(R"({"r": 8, "target_modules": ["q_proj"], "use_dora": true})",
                "a.json", "'use_dora' = true is not supported");
  expectFailure(R"({"r": 8, "target_modules": ["q_proj"], "lora_typo": 1})",
                "a.json", "unknown lora key 'lora_typo'");
  // RE2 has no backreferences or lookaround; such patterns are refused.
  expectFailure(R"({"r": 8, "target_modules": "(q)\\1_proj"})", "a.json",
                "target_modules '(q)\\1_proj' is not a valid regular "
                "expression: invalid escape sequence");
  expectFailure(R"({"r": 8, "target_modules": "(?=q).*"})", "a.json",
                "is not a valid regular expression");
}

TEST(Passes, BadPoliciesAreDiagnosed) {
  struct Case {
    std::string policy;
    bool quantize;
    std::string needle;
  };
  std::vector<Case> cases = {
      {"freeze: [\"**\"]\nlora: {r: 2, targets: [\"enc.**\"]}\n", false,
       "lora target 'enc.norm' is not a linear layer"},
      {"lora: {r: 2, dropout: 1.0, targets: [q_proj]}\n", false,
       "lora dropout must be in [0, 1), got 1"},
      {"train: [\"**\"]\nquantize: {nf4: [q_proj]}\n", true,
       "nf4 target 'enc.self_attn.q_proj.weight' is trainable"},
  };
  for (const Case &c : cases) {
    mlir::MLIRContext context;
    ModuleBuilder module(context);
    FunctionBuilder f(module, "forward");
    dsl::Tensor x = f.input("x", {2, 4}, DType::F32);
    Scope s = f.root()["enc"];
    // A norm-like scale in the "enc" module, so that "enc.**" selects a
    // parameter that no linear uses.
    dsl::Tensor h = linear(s["self_attn"]["q_proj"], x, 4, true, DType::F32) *
                    s["norm"].param("weight", {4}, Init::ones(), DType::F32);
    f.finish({{"y", h}});
    std::string diagnostics;
    Pipeline p{writePolicy("bad.yaml", c.policy), !c.quantize, c.quantize,
               false};
    EXPECT_TRUE(mlir::failed(runPasses(module.module(), p, &diagnostics)))
        << c.policy;
    EXPECT_NE(diagnostics.find(c.needle), std::string::npos) << diagnostics;
  }
}

// The seed policy on paligemma-3b-pt-224: peft's printed line, 207 adapters
// (126 in Gemma, 81 in SigLIP) and the NF4 linears of spec §3.6.
TEST(SeedPolicy, PaliGemma3bCounts) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  models::PaliGemmaConfig config =
      models::loadPaliGemmaConfig("paligemma-3b-pt-224");
  models::PaliGemmaBuildOptions build;
  build.shape.batch = 1;
  build.shape.seqLen = config.numImageTokens() + 8;
  build.dtype = DType::BF16;
  models::buildPaliGemmaForward(module, config, build);
  Pipeline p{std::string(PGC_SOURCE_DIR) + "/policies/seed-qlora.yaml", true,
             true, false};
  std::string diagnostics;
  ASSERT_TRUE(mlir::succeeded(runPasses(module.module(), p, &diagnostics)))
      << diagnostics;
  ParameterSummary summary = summarizeParameters(module.module());
  EXPECT_EQ(summary.trainable, 11298816);
  EXPECT_EQ(summary.all, 2934765296);
  EXPECT_EQ(summary.loraModules["language_model"], 126);
  EXPECT_EQ(summary.loraModules["vision_tower"], 81);
  // 27 x 6 SigLIP linears + the projector + 18 x 7 Gemma linears.
  EXPECT_EQ(summary.nf4Weights, 27 * 6 + 1 + 18 * 7);
  EXPECT_EQ(summary.nf4Elements, 2395238400);
  std::string text = formatParameterSummary(summary);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "trainable params: 11,298,816 || all params: 2,934,765,296 || "
            "trainable%: 0.3850");
}

} // namespace
} // namespace pgc
