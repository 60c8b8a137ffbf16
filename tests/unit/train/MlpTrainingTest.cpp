// The MLP example compiled by `pgc compile --model mlp --train` learns a random
// teacher through the Trainer, and gradient accumulation over 4 micro-batches
// equals one batch 4x larger.
#include "runtime/artifact/Plan.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace pgc::train {
namespace {

// examples/Mlp.cpp's sizes.
constexpr int64_t kIn = 16, kHidden = 32, kOut = 4;

class ScratchDir {
public:
  explicit ScratchDir(const std::string &name)
      : path_(std::filesystem::temp_directory_path() /
              (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  std::string operator/(const std::string &child) const {
    return (path_ / child).string();
  }

private:
  std::filesystem::path path_;
};

// Compiles the MLP with the training functions through the CLI, as a user
// does, and loads the artifact.
Plan compileMlp(const ScratchDir &dir, int64_t batch, const std::string &dtype,
                const std::string &optim = "adamw_torch") {
  std::string path = dir / ("mlp-" + dtype + "-" + std::to_string(batch) + "-" +
                            optim + ".pgc");
  std::string command = std::string(PGC_BINARY_DIR) +
                        "/bin/pgc compile --model mlp --train --optim " +
                        optim + " --batch " + std::to_string(batch) +
                        " --dtype " + dtype + " -o " + path + " >/dev/null";
  int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  return readArtifact(path);
}

double geluTanh(double x) {
  return 0.5 * x *
         (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

// The fixed random MLP whose outputs are the targets, evaluated in f64.
struct Teacher {
  std::vector<double> w1, b1, w2, b2;
  explicit Teacher(uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto normal = [&](size_t n, double stddev) {
      std::normal_distribution<double> dist(0.0, stddev);
      std::vector<double> v(n);
      for (double &x : v)
        x = dist(rng);
      return v;
    };
    w1 = normal(kHidden * kIn, 1.0 / std::sqrt(double(kIn)));
    b1 = normal(kHidden, 0.1);
    w2 = normal(kOut * kHidden, 1.0 / std::sqrt(double(kHidden)));
    b2 = normal(kOut, 0.1);
  }
  std::vector<double> operator()(const double *x) const {
    std::vector<double> h(kHidden), y(kOut);
    for (int64_t j = 0; j < kHidden; ++j) {
      double s = b1[j];
      for (int64_t i = 0; i < kIn; ++i)
        s += w1[j * kIn + i] * x[i];
      h[j] = geluTanh(s);
    }
    for (int64_t k = 0; k < kOut; ++k) {
      double s = b2[k];
      for (int64_t j = 0; j < kHidden; ++j)
        s += w2[k * kHidden + j] * h[j];
      y[k] = s;
    }
    return y;
  }
};

// A batch of inputs x ~ N(0, 1) with the teacher's outputs as targets.
TensorMap teacherBatch(const Teacher &teacher, std::mt19937_64 &rng,
                       int64_t batch, DType dtype) {
  std::normal_distribution<double> dist(0.0, 1.0);
  Tensor x(dtype, {batch, kIn}), y(dtype, {batch, kOut});
  std::vector<double> row(kIn);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < kIn; ++i) {
      // The teacher sees the value the model sees.
      x.set(b * kIn + i, dist(rng));
      row[i] = x.at(b * kIn + i);
    }
    std::vector<double> target = teacher(row.data());
    for (int64_t k = 0; k < kOut; ++k)
      y.set(b * kOut + k, target[k]);
  }
  return {{"x", x}, {"y", y}};
}

// Rows [begin, begin + count) of every tensor of a batch.
TensorMap rows(const TensorMap &batch, int64_t begin, int64_t count) {
  TensorMap part;
  for (const auto &[name, t] : batch) {
    int64_t width = t.numel() / t.dim(0);
    Tensor slice(t.dtype(), {count, width});
    for (int64_t i = 0; i < count * width; ++i)
      slice.set(i, t.at(begin * width + i));
    part[name] = slice;
  }
  return part;
}

double evalLoss(Session &session, const std::vector<TensorMap> &batches) {
  double total = 0;
  for (const TensorMap &batch : batches)
    total += session.run("forward", batch).at("loss").at(0);
  return total / static_cast<double>(batches.size());
}

TEST(MlpTraining, LossFallsTenfoldOnATeacherTask) {
  ScratchDir dir("pgc-train-mlp");
  Session session(compileMlp(dir, 16, "f32"));
  session.initializeParameters(7);
  Teacher teacher(1234);
  std::mt19937_64 evalRng(99), trainRng(5);
  std::vector<TensorMap> evalSet;
  for (int i = 0; i < 8; ++i)
    evalSet.push_back(teacherBatch(teacher, evalRng, 16, DType::F32));

  TrainingConfig config;
  config.optimizer.learningRate = 1e-2;
  config.optimizer.weightDecay = 1e-4;
  config.warmupSteps = 20;
  config.totalSteps = 600;
  Trainer trainer(session, config);
  double initial = evalLoss(session, evalSet);
  double firstTrainLoss = 0, lastTrainLoss = 0;
  for (int64_t step = 0; step < config.totalSteps; ++step) {
    TensorMap out =
        trainer.trainStep(teacherBatch(teacher, trainRng, 16, DType::F32));
    (step == 0 ? firstTrainLoss : lastTrainLoss) = out.at("loss").at(0);
    UpdateReport report = trainer.applyUpdate();
    ASSERT_TRUE(std::isfinite(report.gradNorm)) << "step " << step;
  }
  double final = evalLoss(session, evalSet);
  std::printf("mlp teacher task: eval loss %.5f -> %.5f (x%.1f) in %lld "
              "steps; train loss %.5f -> %.5f\n",
              initial, final, initial / final,
              static_cast<long long>(config.totalSteps), firstTrainLoss,
              lastTrainLoss);
  EXPECT_EQ(trainer.step(), config.totalSteps);
  EXPECT_LT(final, initial / 10);
}

// Accumulating 4 micro-batches of 4 with loss_scale 1/4 gives the gradient,
// and so the update, of one batch of 16: the loss is a mean over the batch.
void expectAccumulationMatchesBigBatch(const std::string &dtypeName,
                                       DType dtype, double gradTolerance,
                                       double paramTolerance) {
  ScratchDir dir("pgc-train-accum-" + dtypeName);
  Session big(compileMlp(dir, 16, dtypeName));
  Session small(compileMlp(dir, 4, dtypeName));
  big.initializeParameters(3);
  small.initializeParameters(3);
  TrainingConfig config;
  config.optimizer.learningRate = 1e-2;
  config.optimizer.weightDecay = 0.01;
  config.optimizer.maxGradNorm = 0.5;
  config.totalSteps = 10;
  Trainer bigTrainer(big, config);
  config.gradientAccumulationSteps = 4;
  Trainer smallTrainer(small, config);

  Teacher teacher(77);
  std::mt19937_64 rng(11);
  for (int update = 1; update <= 3; ++update) {
    TensorMap batch = teacherBatch(teacher, rng, 16, dtype);
    double bigLoss = bigTrainer.trainStep(batch).at("loss").at(0);
    double meanLoss = 0;
    for (int q = 0; q < 4; ++q)
      meanLoss +=
          smallTrainer.trainStep(rows(batch, 4 * q, 4)).at("loss").at(0) / 4;
    EXPECT_NEAR(meanLoss, bigLoss, gradTolerance * std::fabs(bigLoss));

    for (const PlanParameter &p : big.plan().parameters) {
      const Tensor &a = big.state("grad." + p.name);
      const Tensor &b = small.state("grad." + p.name);
      double largest = 0, worst = 0;
      for (int64_t i = 0; i < a.numel(); ++i) {
        largest = std::max(largest, std::fabs(a.at(i)));
        worst = std::max(worst, std::fabs(a.at(i) - b.at(i)));
      }
      EXPECT_GT(largest, 0.0) << p.name;
      EXPECT_LE(worst, gradTolerance * largest)
          << dtypeName << " update " << update << " gradient of " << p.name;
    }
    UpdateReport a = bigTrainer.applyUpdate();
    UpdateReport b = smallTrainer.applyUpdate();
    EXPECT_EQ(a.microBatches, 1);
    EXPECT_EQ(b.microBatches, 4);
    EXPECT_NEAR(a.gradNorm, b.gradNorm, gradTolerance * a.gradNorm);
    double worst = 0;
    for (const PlanParameter &p : big.plan().parameters) {
      const Tensor &x = big.parameter(p.name), &y = small.parameter(p.name);
      for (int64_t i = 0; i < x.numel(); ++i)
        worst = std::max(worst, std::fabs(x.at(i) - y.at(i)));
    }
    std::printf("%s update %d: grad norm %.6g, max |param difference| %.3g\n",
                dtypeName.c_str(), update, a.gradNorm, worst);
    EXPECT_LE(worst, paramTolerance) << dtypeName << " update " << update;
  }
}

TEST(MlpTraining, AccumulationOfFourEqualsBatchFourTimesLargerF64) {
  expectAccumulationMatchesBigBatch("f64", DType::F64, 1e-12, 1e-12);
}

TEST(MlpTraining, AccumulationOfFourEqualsBatchFourTimesLargerF32) {
  expectAccumulationMatchesBigBatch("f32", DType::F32, 1e-5, 1e-6);
}

// Both optimizers compile through the CLI and train; an artifact compiled
// without --train is refused by name.
TEST(MlpTraining, CliVariantsAndMissingTrainingFunctions) {
  ScratchDir dir("pgc-train-cli");
  Session hf(compileMlp(dir, 4, "f32", "adamw_hf"));
  hf.initializeParameters(1);
  TrainingConfig config;
  config.totalSteps = 2;
  Trainer trainer(hf, config);
  Teacher teacher(5);
  std::mt19937_64 rng(6);
  trainer.trainStep(teacherBatch(teacher, rng, 4, DType::F32));
  EXPECT_GT(trainer.applyUpdate().gradNorm, 0.0);

  std::string path = dir / "forward-only.pgc";
  ASSERT_EQ(
      std::system((std::string(PGC_BINARY_DIR) +
                   "/bin/pgc compile --model mlp -o " + path + " >/dev/null")
                      .c_str()),
      0);
  Session forwardOnly(readArtifact(path));
  forwardOnly.initializeParameters(1);
  try {
    Trainer t(forwardOnly, config);
    FAIL() << "an artifact without train_step must be refused";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "artifact has no 'train_step' entry point: compile "
                           "with --train");
  }
  std::string bad = dir / "bad.pgc";
  EXPECT_NE(
      std::system((std::string(PGC_BINARY_DIR) +
                   "/bin/pgc compile --model mlp --train --optim sgd -o " +
                   bad + " >/dev/null 2>&1")
                      .c_str()),
      0);
  EXPECT_FALSE(std::filesystem::exists(bad));
}

} // namespace
} // namespace pgc::train
