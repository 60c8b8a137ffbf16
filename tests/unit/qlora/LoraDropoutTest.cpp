// LoRA dropout through the passes: pg-insert-lora's pg.dropout in train_step
// only, its loss against an f64 reference, its gradients against finite
// differences, pg-eval-mode's forward, and the key the Trainer feeds.
#include "compiler/Lowering/LowerToPlan.h"
#include "dsl/Builder.h"
#include "dsl/Layers.h"
#include "dsl/Ops.h"
#include "passes/Passes.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "runtime/train/Trainer.h"
#include "tests/unit/qlora/GradientCheck.h"

#include "mlir/Pass/PassManager.h"
#include "tests/unit/ScratchSpace.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

using Tensor = pgc::Tensor;
using dsl::FunctionBuilder;
using dsl::ModuleBuilder;

constexpr int64_t kRows = 4, kIn = 16, kOut = 8, kRank = 2;
constexpr double kP = 0.25, kScaling = 4.0 / kRank;
const char *kModules[] = {"enc.q_proj", "dec.o_proj"};

std::string writePolicy(double dropout) {
  std::string path = pgc::unittest::uniqueScratchPath(
      "lora-dropout-" + std::to_string(dropout) + ".yaml");
  std::ofstream(path) << "freeze: [\"**\"]\nlora: {r: 2, alpha: 4, dropout: "
                      << dropout << ", targets: [q_proj, o_proj]}\n";
  return path;
}

std::vector<double> randomValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> values(n);
  for (double &v : values)
    v = dist(rng);
  return values;
}

Tensor tensorOf(const Shape &shape, const std::vector<double> &values) {
  Tensor t(DType::F64, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, values[i]);
  return t;
}

// x [4, 16] -> enc.q_proj (16 -> 8, bias) -> gelu -> dec.o_proj (8 -> 8) ->
// loss = sum(y * R), in f64, with LoRA (dropout p) on both projections, so
// that o_proj's dropout sits on a path to q_proj's adapters and its
// gradient rule matters; train_step (and apply_update with the optimizer)
// as `pgc compile` builds them, then pg-eval-mode on forward.
std::unique_ptr<Session> compile(double dropout, bool optimizer = false) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  FunctionBuilder f(module, "forward");
  dsl::Tensor x = f.input("x", {kRows, kIn}, DType::F64);
  dsl::Tensor h =
      dsl::linear(f.root()["enc"]["q_proj"], x, kOut, true, DType::F64);
  dsl::Tensor y = dsl::linear(f.root()["dec"]["o_proj"], dsl::geluTanh(h), kOut,
                              false, DType::F64);
  dsl::Tensor loss =
      dsl::sum(y * dsl::constant(f, {kRows, kOut},
                                 randomValues(kRows * kOut, 99), DType::F64),
               {0, 1});
  f.finish({{"y", y}, {"loss", loss}});
  mlir::PassManager pm(&context);
  mlir::pg::PgInsertLoraOptions lora;
  lora.policy = writePolicy(dropout);
  pm.addPass(mlir::pg::createPgInsertLora(lora));
  mlir::pg::PgAutodiffOptions autodiff;
  autodiff.trainableOnly = true;
  pm.addPass(mlir::pg::createPgAutodiff(autodiff));
  if (optimizer)
    pm.addPass(mlir::pg::createPgOptimizer());
  pm.addPass(mlir::pg::createPgEvalMode());
  EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  auto session =
      std::make_unique<Session>(compiler::lowerToPlan(module.module()));
  session->initializeParameters(1);
  // Non-zero Bs, so that the adapter paths (and the As' gradients) matter.
  for (const char *module : kModules)
    session->setParameter(
        std::string(module) + ".lora_B.weight",
        tensorOf({kOut, kRank}, randomValues(kOut * kRank, 17)));
  return session;
}

Tensor keyOf(int64_t seed, int64_t counter) {
  Tensor key(DType::I64, {2});
  key.data<int64_t>()[0] = seed;
  key.data<int64_t>()[1] = counter;
  return key;
}

const Tensor kX = tensorOf({kRows, kIn}, randomValues(kRows *kIn, 8));

double trainLoss(Session &session, const Tensor &key) {
  return session.run("train_step", {{"x", kX}, {"dropout_key", key}})
      .at("loss")
      .at(0);
}

bool hasInput(const Session &session, const std::string &entry,
              const std::string &name) {
  const PlanEntryPoint *e = session.plan().findEntryPoint(entry);
  return std::find(e->inputNames.begin(), e->inputNames.end(), name) !=
         e->inputNames.end();
}

// One LoRA linear in f64 loops: W x (+ b) + s B A (m * x / (1 - p)), with
// the mask m taken from the dropout kernel for the adapter's site.
std::vector<double> loraLinearReference(const Session &session,
                                        const std::string &module,
                                        const std::vector<double> &x,
                                        int64_t in, const Tensor &key,
                                        bool bias, int64_t *dropped) {
  Tensor mask(DType::F64, {kRows, in});
  cpu::dropout(tensorOf({kRows, in}, std::vector<double>(kRows * in, 1.0)), key,
               kP, module, mask);
  const Tensor &w = session.parameter(module + ".weight");
  const Tensor &a = session.parameter(module + ".lora_A.weight");
  const Tensor &b = session.parameter(module + ".lora_B.weight");
  std::vector<double> y(kRows * kOut);
  for (int64_t row = 0; row < kRows; ++row) {
    std::vector<double> down(kRank);
    for (int64_t k = 0; k < kRank; ++k)
      for (int64_t i = 0; i < in; ++i)
        down[k] += a.at(k * in + i) * x[row * in + i] * mask.at(row * in + i);
    for (int64_t o = 0; o < kOut; ++o) {
      double sum = bias ? session.parameter(module + ".bias").at(o) : 0.0;
      for (int64_t i = 0; i < in; ++i)
        sum += w.at(o * in + i) * x[row * in + i];
      for (int64_t k = 0; k < kRank; ++k)
        sum += kScaling * b.at(o * kRank + k) * down[k];
      y[row * kOut + o] = sum;
    }
  }
  for (int64_t i = 0; i < mask.numel(); ++i)
    *dropped += mask.at(i) == 0;
  return y;
}

TEST(LoraDropout, TrainStepLossMatchesAnF64ReferenceWithTheSiteMasks) {
  auto session = compile(kP);
  Tensor key = keyOf(5, 3);
  int64_t dropped = 0;
  std::vector<double> x(kX.data<double>(), kX.data<double>() + kX.numel());
  std::vector<double> h =
      loraLinearReference(*session, "enc.q_proj", x, kIn, key, true, &dropped);
  for (double &v : h) // gelu, tanh approximation
    v = 0.5 * v *
        (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  std::vector<double> y = loraLinearReference(*session, "dec.o_proj", h, kOut,
                                              key, false, &dropped);
  std::vector<double> r = randomValues(kRows * kOut, 99);
  double expected = 0;
  for (size_t i = 0; i < y.size(); ++i)
    expected += r[i] * y[i];
  ASSERT_GT(dropped, 0);
  EXPECT_NEAR(trainLoss(*session, key), expected, 1e-12 * std::fabs(expected));
}

TEST(LoraDropout, GradientsMatchFiniteDifferencesUnderOneKey) {
  auto session = compile(kP);
  Tensor key = keyOf(5, 3);
  TensorMap outputs =
      session->run("train_step", {{"x", kX}, {"dropout_key", key}});
  for (const char *name :
       {"enc.q_proj.lora_A.weight", "enc.q_proj.lora_B.weight",
        "dec.o_proj.lora_A.weight", "dec.o_proj.lora_B.weight"}) {
    test::expectGradientMatchesFiniteDifferences(
        *session, name, outputs.at(std::string("grad.") + name),
        [&] { return trainLoss(*session, key); });
  }
}

// forward is the evaluation function: no key, no dropout, the same bits as
// the model compiled without dropout; train_step draws a mask per key.
TEST(LoraDropout, ForwardEvaluatesWithoutDropout) {
  auto dropped = compile(kP);
  auto plain = compile(0.0);
  EXPECT_FALSE(hasInput(*dropped, "forward", "dropout_key"));
  EXPECT_TRUE(hasInput(*dropped, "train_step", "dropout_key"));
  EXPECT_FALSE(hasInput(*plain, "train_step", "dropout_key"));
  Tensor a = dropped->run("forward", {{"x", kX}}).at("y");
  Tensor b = plain->run("forward", {{"x", kX}}).at("y");
  EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.byteSize()));
  double evaluation = dropped->run("forward", {{"x", kX}}).at("loss").at(0);
  double first = trainLoss(*dropped, keyOf(5, 3));
  EXPECT_NE(first, evaluation);
  EXPECT_EQ(first, trainLoss(*dropped, keyOf(5, 3)));
  EXPECT_NE(first, trainLoss(*dropped, keyOf(5, 4)));
  EXPECT_NE(first, trainLoss(*dropped, keyOf(6, 3)));
}

// The Trainer's key is [dropoutSeed, micro-batches trained], so a trainer
// restored to step s draws what the original drew at step s.
TEST(LoraDropout, TrainerKeysMasksBySeedAndMicroBatchCount) {
  auto session = compile(kP, /*optimizer=*/true);
  train::TrainingConfig config;
  config.gradientAccumulationSteps = 2;
  config.totalSteps = 10;
  config.dropoutSeed = 77;
  // Losses straight from the session, key by key.
  std::vector<double> byCounter;
  for (int64_t counter = 0; counter < 8; ++counter)
    byCounter.push_back(
        session
            ->run("train_step", {{"x", kX},
                                 {"loss_scale", Tensor(DType::F32, {})},
                                 {"dropout_key", keyOf(77, counter)}})
            .at("loss")
            .at(0));
  EXPECT_NE(byCounter[0], byCounter[1]);
  train::Trainer trainer(*session, config);
  EXPECT_EQ(trainer.trainStep({{"x", kX}}).at("loss").at(0), byCounter[0]);
  EXPECT_EQ(trainer.trainStep({{"x", kX}}).at("loss").at(0), byCounter[1]);
  train::Trainer resumed(*session, config);
  resumed.setStep(3); // 3 updates of 2 micro-batches: the next is number 6
  EXPECT_EQ(resumed.microBatchesTrained(), 6);
  EXPECT_EQ(resumed.trainStep({{"x", kX}}).at("loss").at(0), byCounter[6]);
  EXPECT_EQ(resumed.trainStep({{"x", kX}}).at("loss").at(0), byCounter[7]);
  EXPECT_THROW(trainer.trainStep({{"x", kX}, {"dropout_key", keyOf(0, 0)}}),
               Error);
}

} // namespace
} // namespace pgc
