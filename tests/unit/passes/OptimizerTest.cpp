// pg-optimizer and the Trainer against AdamW, clipping and accumulation written
// out by hand in f64.
#include "compiler/Lowering/LowerToPlan.h"
#include "dsl/Builder.h"
#include "dsl/Ops.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "runtime/train/Trainer.h"

#include "mlir/Pass/PassManager.h"

#include <cmath>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

using namespace dsl;

// The tiny problem, with gradients known in closed form:
//   loss = 0.5 * sum(Rw * w^2) + sum(x * b) + sum(Rn * n^3) / 3
//   d/dw = Rw * w,  d/db = x,  d/dn = Rn * n^2
// w = "fc.weight" decays; "fc.bias" and "norm.weight" match the default
// no-decay globs.
constexpr int64_t kRows = 2, kCols = 3, kWidth = 4;

std::vector<double> draw(size_t n, uint64_t seed, double low, double high) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> values(n);
  for (double &v : values)
    v = dist(rng);
  return values;
}

const std::vector<double> &rw() {
  static const std::vector<double> values = draw(kRows * kCols, 1, -1, 1);
  return values;
}
const std::vector<double> &rn() {
  static const std::vector<double> values = draw(kWidth, 2, -1, 1);
  return values;
}

std::unique_ptr<Session> compileProblem(const std::string &variant) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  FunctionBuilder f(module, "forward");
  dsl::Tensor x = f.input("x", {kWidth}, DType::F64);
  Scope s = f.root();
  dsl::Tensor w =
      s["fc"].param("weight", {kRows, kCols}, Init::zeros(), DType::F64);
  dsl::Tensor b = s["fc"].param("bias", {kWidth}, Init::zeros(), DType::F64);
  dsl::Tensor n =
      s["norm"].param("weight", {kWidth}, Init::zeros(), DType::F64);
  dsl::Tensor rwT = constant(f, {kRows, kCols}, rw(), DType::F64);
  dsl::Tensor rnT = constant(f, {kWidth}, rn(), DType::F64);
  dsl::Tensor loss = sum(rwT * w * w, {0, 1}) * 0.5 + sum(x * b, {0}) +
                     sum(rnT * n * n * n, {0}) / 3.0;
  f.finish({{"loss", loss}});

  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  mlir::pg::PgOptimizerOptions options;
  options.variant = variant;
  pm.addPass(mlir::pg::createPgOptimizer(options));
  EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  return std::make_unique<Session>(compiler::lowerToPlan(module.module()));
}

pgc::Tensor tensorOf(const Shape &shape, const std::vector<double> &values,
                     DType dtype = DType::F64) {
  pgc::Tensor t(dtype, shape);
  for (size_t i = 0; i < values.size(); ++i)
    t.set(static_cast<int64_t>(i), values[i]);
  return t;
}

pgc::Tensor scalar(double value) { return tensorOf({}, {value}, DType::F32); }

double f32(double value) {
  return static_cast<double>(static_cast<float>(value));
}

// One parameter of the hand reference.
struct HandParam {
  std::string name;
  Shape shape;
  std::vector<double> value, expAvg, expAvgSq;
  bool decay;
};

// The hyperparameters exactly as apply_update sees them (its inputs are f32).
struct Hyper {
  double lr, wd, beta1, beta2, eps, bc1, bc2, maxNorm;
};

// torch.nn.utils.clip_grad_norm_ and then one AdamW step of the chosen
// variant, straight from the formulas. Returns the pre-clip norm.
double handStep(std::vector<HandParam> &params,
                const std::vector<std::vector<double>> &grads, const Hyper &h,
                bool torchVariant) {
  double squares = 0;
  for (const auto &g : grads)
    for (double gi : g)
      squares += gi * gi;
  double norm = std::sqrt(squares);
  double coef = h.maxNorm > 0 ? std::min(1.0, h.maxNorm / (norm + 1e-6)) : 1.0;
  for (size_t k = 0; k < params.size(); ++k) {
    HandParam &p = params[k];
    for (size_t i = 0; i < p.value.size(); ++i) {
      double g = grads[k][i] * coef;
      double &m = p.expAvg[i], &v = p.expAvgSq[i], &theta = p.value[i];
      m = h.beta1 * m + (1 - h.beta1) * g;
      v = h.beta2 * v + (1 - h.beta2) * g * g;
      if (torchVariant) {
        if (p.decay)
          theta *= 1 - h.lr * h.wd;
        double denom = std::sqrt(v) / std::sqrt(h.bc2) + h.eps;
        theta -= (h.lr / h.bc1) * (m / denom);
      } else {
        double stepSize = h.lr * std::sqrt(h.bc2) / h.bc1;
        theta -= stepSize * (m / (std::sqrt(v) + h.eps));
        if (p.decay)
          theta -= h.lr * h.wd * theta;
      }
    }
  }
  return norm;
}

std::vector<HandParam> initialParams() {
  std::vector<HandParam> params = {
      {"fc.weight",
       {kRows, kCols},
       draw(kRows * kCols, 10, -1.5, 1.5),
       {},
       {},
       true},
      {"fc.bias", {kWidth}, draw(kWidth, 11, -1, 1), {}, {}, false},
      {"norm.weight", {kWidth}, draw(kWidth, 12, 0.5, 1.5), {}, {}, false},
  };
  for (HandParam &p : params) {
    p.expAvg.assign(p.value.size(), 0.0);
    p.expAvgSq.assign(p.value.size(), 0.0);
  }
  return params;
}

// Gradients of the hand problem, summed over micro-batches with loss_scale.
std::vector<std::vector<double>>
handGradients(const std::vector<HandParam> &params,
              const std::vector<std::vector<double>> &microBatches,
              double lossScale) {
  std::vector<std::vector<double>> grads(3);
  grads[0].assign(kRows * kCols, 0.0);
  grads[1].assign(kWidth, 0.0);
  grads[2].assign(kWidth, 0.0);
  for (const auto &x : microBatches) {
    for (int64_t i = 0; i < kRows * kCols; ++i)
      grads[0][i] += lossScale * rw()[i] * params[0].value[i];
    for (int64_t i = 0; i < kWidth; ++i) {
      grads[1][i] += lossScale * x[i];
      double n = params[2].value[i];
      grads[2][i] += lossScale * rn()[i] * n * n;
    }
  }
  return grads;
}

std::vector<double> valuesOf(const pgc::Tensor &t) {
  std::vector<double> values;
  for (int64_t i = 0; i < t.numel(); ++i)
    values.push_back(t.at(i));
  return values;
}

double maxDifference(const pgc::Tensor &actual,
                     const std::vector<double> &expected) {
  EXPECT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  double worst = 0;
  for (int64_t i = 0; i < actual.numel(); ++i)
    worst = std::max(worst, std::fabs(actual.at(i) - expected[i]));
  return worst;
}

void expectMatchesHand(Session &session, const std::vector<HandParam> &params,
                       double tolerance, const std::string &context) {
  for (const HandParam &p : params) {
    EXPECT_LE(maxDifference(session.parameter(p.name), p.value), tolerance)
        << context << " " << p.name;
    EXPECT_LE(maxDifference(session.state("adam.exp_avg." + p.name), p.expAvg),
              tolerance)
        << context << " exp_avg " << p.name;
    EXPECT_LE(
        maxDifference(session.state("adam.exp_avg_sq." + p.name), p.expAvgSq),
        tolerance)
        << context << " exp_avg_sq " << p.name;
    EXPECT_EQ(maxDifference(session.state("grad." + p.name),
                            std::vector<double>(p.value.size(), 0.0)),
              0.0)
        << context << " accumulator of " << p.name << " is not zeroed";
  }
}

struct Case {
  std::string variant;
  double weightDecay, maxNorm;
  bool expectClipping;
};

std::string describe(const Case &c) {
  return c.variant + " wd=" + std::to_string(c.weightDecay) +
         " max_grad_norm=" + std::to_string(c.maxNorm);
}

const std::vector<Case> &cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> list;
    for (std::string variant : {"adamw_torch", "adamw_hf"})
      for (double wd : {0.0, 0.1})
        for (auto [maxNorm, clips] :
             {std::pair{0.0, false}, std::pair{0.5, true},
              std::pair{100.0, false}})
          list.push_back({variant, wd, maxNorm, clips});
    return list;
  }();
  return all;
}

// Three optimizer steps of two micro-batches each (loss_scale 1/2), through
// the entry points directly, with hand-picked hyperparameters.
TEST(PgOptimizer, AdamWStepsMatchHandComputationInF64) {
  std::vector<std::vector<double>> batches;
  for (uint64_t seed = 20; seed < 26; ++seed)
    batches.push_back(draw(kWidth, seed, -2, 2));
  for (const Case &c : cases()) {
    std::unique_ptr<Session> session = compileProblem(c.variant);
    std::vector<HandParam> hand = initialParams();
    for (const HandParam &p : hand)
      session->setParameter(p.name, tensorOf(p.shape, p.value));
    double beta1 = 0.8, beta2 = 0.95;
    bool clipped = false;
    for (int step = 1; step <= 3; ++step) {
      std::vector<std::vector<double>> micro = {batches[2 * step - 2],
                                                batches[2 * step - 1]};
      std::vector<std::vector<double>> grads = handGradients(hand, micro, 0.5);
      for (const auto &x : micro) {
        TensorMap out =
            session->run("train_step", {{"x", tensorOf({kWidth}, x)},
                                        {"loss_scale", scalar(0.5)}});
        EXPECT_EQ(out.count("loss"), 1u);
        EXPECT_EQ(out.size(), 1u) << "train_step still returns gradients";
      }
      Hyper h{f32(0.05),
              f32(c.weightDecay),
              f32(beta1),
              f32(beta2),
              f32(1e-3),
              f32(1 - std::pow(beta1, step)),
              f32(1 - std::pow(beta2, step)),
              f32(c.maxNorm)};
      double norm = handStep(hand, grads, h, c.variant == "adamw_torch");
      clipped |= c.maxNorm > 0 && c.maxNorm / (norm + 1e-6) < 1;
      TensorMap out =
          session->run("apply_update", {{"lr", scalar(h.lr)},
                                        {"weight_decay", scalar(h.wd)},
                                        {"beta1", scalar(h.beta1)},
                                        {"beta2", scalar(h.beta2)},
                                        {"eps", scalar(h.eps)},
                                        {"bias_correction1", scalar(h.bc1)},
                                        {"bias_correction2", scalar(h.bc2)},
                                        {"max_grad_norm", scalar(h.maxNorm)}});
      EXPECT_EQ(out.at("grad_norm").dtype(), DType::F64);
      EXPECT_NEAR(out.at("grad_norm").at(0), norm, 1e-12 * norm)
          << describe(c) << " step " << step;
      expectMatchesHand(*session, hand, 1e-12,
                        describe(c) + " step " + std::to_string(step));
    }
    EXPECT_EQ(clipped, c.expectClipping) << describe(c);
  }
}

// The two variants must actually differ here (eps inside or outside the
// bias correction, decay before or after), or the test above could not tell
// them apart.
TEST(PgOptimizer, VariantsDifferOnTheTinyProblem) {
  std::vector<double> x = draw(kWidth, 30, -2, 2);
  std::vector<double> weights[2];
  int k = 0;
  for (std::string variant : {"adamw_torch", "adamw_hf"}) {
    std::unique_ptr<Session> session = compileProblem(variant);
    for (const HandParam &p : initialParams())
      session->setParameter(p.name, tensorOf(p.shape, p.value));
    session->run("train_step",
                 {{"x", tensorOf({kWidth}, x)}, {"loss_scale", scalar(1)}});
    session->run("apply_update", {{"lr", scalar(0.05)},
                                  {"weight_decay", scalar(0.1)},
                                  {"beta1", scalar(0.8)},
                                  {"beta2", scalar(0.95)},
                                  {"eps", scalar(1e-3)},
                                  {"bias_correction1", scalar(0.2)},
                                  {"bias_correction2", scalar(0.05)},
                                  {"max_grad_norm", scalar(0)}});
    const pgc::Tensor &w = session->parameter("fc.weight");
    for (int64_t i = 0; i < w.numel(); ++i)
      weights[k].push_back(w.at(i));
    ++k;
  }
  double largest = 0;
  for (size_t i = 0; i < weights[0].size(); ++i)
    largest = std::max(largest, std::fabs(weights[0][i] - weights[1][i]));
  EXPECT_GT(largest, 1e-6);
}

// The Trainer supplies loss_scale, the scheduled lr and the bias
// corrections: 1/accum, base * multiplier(updates done), 1 - beta^t in
// double, each then rounded to the f32 inputs.
TEST(Trainer, DrivesTheUpdateWithScheduleAndBiasCorrections) {
  for (std::string variant : {"adamw_torch", "adamw_hf"}) {
    std::unique_ptr<Session> session = compileProblem(variant);
    std::vector<HandParam> hand = initialParams();
    for (const HandParam &p : hand)
      session->setParameter(p.name, tensorOf(p.shape, p.value));
    train::TrainingConfig config;
    config.optimizer = {0.04, 0.2, 0.85, 0.9, 1e-4, 0.7};
    config.gradientAccumulationSteps = 3;
    config.warmupSteps = 2;
    config.totalSteps = 5;
    train::Trainer trainer(*session, config);
    const double multipliers[] = {0.0, 0.5, 1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0};
    uint64_t seed = 40;
    for (int step = 1; step <= 6; ++step) {
      std::vector<std::vector<double>> micro;
      for (int i = 0; i < 3; ++i)
        micro.push_back(draw(kWidth, seed++, -2, 2));
      std::vector<std::vector<double>> grads =
          handGradients(hand, micro, f32(1.0 / 3.0));
      for (const auto &x : micro)
        trainer.trainStep({{"x", tensorOf({kWidth}, x)}});
      EXPECT_EQ(trainer.pendingMicroBatches(), 3);
      double lr = 0.04 * multipliers[step - 1];
      Hyper h{f32(lr),
              f32(0.2),
              f32(0.85),
              f32(0.9),
              f32(1e-4),
              f32(1 - std::pow(0.85, step)),
              f32(1 - std::pow(0.9, step)),
              f32(0.7)};
      std::vector<double> before = hand[0].value;
      double norm = handStep(hand, grads, h, variant == "adamw_torch");
      train::UpdateReport report = trainer.applyUpdate();
      EXPECT_EQ(report.step, step);
      EXPECT_EQ(report.microBatches, 3);
      EXPECT_NEAR(report.learningRate, lr, 1e-15) << variant << " " << step;
      EXPECT_NEAR(report.gradNorm, norm, 1e-12 * norm);
      expectMatchesHand(*session, hand, 1e-12,
                        variant + " step " + std::to_string(step));
      if (step == 1) // lr 0 on the first warmup update: moments move only.
        EXPECT_EQ(maxDifference(session->parameter("fc.weight"), before), 0.0);
    }
    EXPECT_EQ(trainer.step(), 6);
    std::vector<std::string> names = trainer.optimizerStateNames();
    EXPECT_EQ(names.size(), 6u);
    EXPECT_NE(
        std::find(names.begin(), names.end(), "adam.exp_avg_sq.norm.weight"),
        names.end());
  }
}

// A checkpoint is the parameters, the step count and the moments: a fresh
// session restored from them continues exactly as the uninterrupted run.
TEST(Trainer, ResumesFromStepAndOptimizerState) {
  std::unique_ptr<Session> first = compileProblem("adamw_torch");
  for (const HandParam &p : initialParams())
    first->setParameter(p.name, tensorOf(p.shape, p.value));
  train::TrainingConfig config;
  config.optimizer = {0.05, 0.1, 0.8, 0.95, 1e-3, 0.0};
  config.gradientAccumulationSteps = 2;
  config.warmupSteps = 1;
  config.totalSteps = 6;
  train::Trainer trainer(*first, config);
  auto update = [&](train::Trainer &t, uint64_t seed) {
    t.trainStep({{"x", tensorOf({kWidth}, draw(kWidth, seed, -2, 2))}});
    t.trainStep({{"x", tensorOf({kWidth}, draw(kWidth, seed + 1, -2, 2))}});
    return t.applyUpdate();
  };
  update(trainer, 50);
  update(trainer, 52);

  std::unique_ptr<Session> second = compileProblem("adamw_torch");
  for (const PlanParameter &p : first->plan().parameters)
    second->setParameter(p.name, first->parameter(p.name));
  train::Trainer resumed(*second, config);
  for (const std::string &name : trainer.optimizerStateNames())
    second->setState(name, first->state(name));
  resumed.setStep(trainer.step());

  for (uint64_t seed = 54; seed < 60; seed += 2) {
    train::UpdateReport a = update(trainer, seed);
    train::UpdateReport b = update(resumed, seed);
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.learningRate, b.learningRate);
    EXPECT_EQ(a.gradNorm, b.gradNorm);
    for (const PlanParameter &p : first->plan().parameters)
      EXPECT_EQ(maxDifference(second->parameter(p.name),
                              valuesOf(first->parameter(p.name))),
                0.0)
          << p.name << " after update " << a.step;
  }
  // Without the step count the schedule and the bias corrections restart
  // (t = 1) and the run diverges: the step is part of the checkpoint.
  std::unique_ptr<Session> third = compileProblem("adamw_torch");
  for (const PlanParameter &p : first->plan().parameters)
    third->setParameter(p.name, second->parameter(p.name));
  for (const std::string &name : trainer.optimizerStateNames())
    third->setState(name, second->state(name));
  train::Trainer stepless(*third, config);
  update(stepless, 70);
  update(resumed, 70);
  EXPECT_GT(maxDifference(third->parameter("fc.weight"),
                          valuesOf(second->parameter("fc.weight"))),
            1e-6);
}

TEST(Trainer, RejectsMisuseWithOneLineErrors) {
  std::unique_ptr<Session> session = compileProblem("adamw_torch");
  for (const HandParam &p : initialParams())
    session->setParameter(p.name, tensorOf(p.shape, p.value));
  train::TrainingConfig config;
  config.totalSteps = 10;
  train::Trainer trainer(*session, config);
  try {
    trainer.applyUpdate();
    FAIL() << "an update without gradients must fail";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "optimizer step 1: no micro-batch was accumulated "
                           "since the last update");
  }
  pgc::Tensor x = tensorOf({kWidth}, {1, 2, 3, 4});
  EXPECT_THROW(trainer.trainStep({{"x", x}, {"loss_scale", scalar(1)}}), Error);
  train::TrainingConfig bad = config;
  bad.gradientAccumulationSteps = 0;
  EXPECT_THROW({ train::Trainer t(*session, bad); }, Error);
  bad = config;
  bad.optimizer.beta2 = 1.0;
  EXPECT_THROW({ train::Trainer t(*session, bad); }, Error);
  bad = config;
  bad.totalSteps = 0;
  EXPECT_THROW({ train::Trainer t(*session, bad); }, Error);
}

// Mixed precision: a bf16 parameter keeps bf16 storage, its accumulator and
// moments are f32, and the stored value is the f32 update rounded to bf16.
TEST(PgOptimizer, Bf16ParameterWithF32State) {
  mlir::MLIRContext context;
  ModuleBuilder module(context);
  FunctionBuilder f(module, "forward");
  dsl::Tensor x = f.input("x", {8}, DType::BF16);
  dsl::Tensor w =
      f.root()["proj"].param("weight", {8}, Init::zeros(), DType::BF16);
  // d loss / d w = x, exact in bf16.
  f.finish({{"loss", sum(x * w, {0}).to(DType::F32)}});
  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  pm.addPass(mlir::pg::createPgOptimizer());
  ASSERT_TRUE(mlir::succeeded(pm.run(module.module())));
  Session session(compiler::lowerToPlan(module.module()));

  std::vector<double> start, grad;
  for (int i = 0; i < 8; ++i) {
    start.push_back((i - 3.5) / 4.0);    // exact in bf16
    grad.push_back((i % 3 - 1) * 0.375); // exact in bf16
  }
  session.setParameter("proj.weight", tensorOf({8}, start, DType::BF16));
  session.run("train_step", {{"x", tensorOf({8}, grad, DType::BF16)},
                             {"loss_scale", scalar(1)}});
  EXPECT_EQ(session.state("grad.proj.weight").dtype(), DType::F32);
  EXPECT_EQ(session.state("adam.exp_avg.proj.weight").dtype(), DType::F32);
  TensorMap out =
      session.run("apply_update", {{"lr", scalar(0.125)},
                                   {"weight_decay", scalar(0.5)},
                                   {"beta1", scalar(0.5)},
                                   {"beta2", scalar(0.75)},
                                   {"eps", scalar(0.0625)},
                                   {"bias_correction1", scalar(0.5)},
                                   {"bias_correction2", scalar(0.25)},
                                   {"max_grad_norm", scalar(0)}});
  EXPECT_EQ(out.at("grad_norm").dtype(), DType::F32);
  const pgc::Tensor &after = session.parameter("proj.weight");
  ASSERT_EQ(after.dtype(), DType::BF16);
  for (int i = 0; i < 8; ++i) {
    // torch variant, decay first: (1 - lr wd) p - lr/bc1 * m /
    // (sqrt(v)/sqrt(bc2) + eps)
    double m = 0.5 * grad[i], v = 0.25 * grad[i] * grad[i];
    double expected = (1 - 0.125 * 0.5) * start[i] -
                      (0.125 / 0.5) * m / (std::sqrt(v) / 0.5 + 0.0625);
    // One bf16 rounding of a value computed in f32.
    EXPECT_NEAR(after.at(i), expected, std::ldexp(std::fabs(expected), -8))
        << i;
    EXPECT_NE(after.at(i), start[i]) << i;
  }
}

} // namespace
} // namespace pgc
