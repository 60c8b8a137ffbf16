// Trainer: loss scaling for gradient accumulation, the step count, bias
// corrections and the schedule.
#include "runtime/train/Trainer.h"

#include "runtime/artifact/TrainingContract.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>

namespace pgc::train {

namespace {

constexpr const char *kTrainEntry = contract::kTrainStep;
constexpr const char *kUpdateEntry = contract::kApplyUpdate;
using contract::kUpdateInputs;

Tensor scalarF32(double value) {
  Tensor t(DType::F32, {});
  t.set(0, value);
  return t;
}

void requireInput(const PlanEntryPoint &entry, const std::string &name) {
  if (std::find(entry.inputNames.begin(), entry.inputNames.end(), name) ==
      entry.inputNames.end())
    fail("entry point '{}' has no input '{}': compile with --train "
         "(pg-autodiff, pg-optimizer)",
         entry.name, name);
}

void validate(const TrainingConfig &config) {
  const AdamWSettings &o = config.optimizer;
  if (!(o.learningRate >= 0))
    fail("learning rate must be >= 0, got {}", o.learningRate);
  if (!(o.weightDecay >= 0))
    fail("weight decay must be >= 0, got {}", o.weightDecay);
  if (!(o.beta1 >= 0 && o.beta1 < 1))
    fail("adam beta1 must be in [0, 1), got {}", o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1))
    fail("adam beta2 must be in [0, 1), got {}", o.beta2);
  if (!(o.epsilon >= 0))
    fail("adam epsilon must be >= 0, got {}", o.epsilon);
  if (std::isnan(o.maxGradNorm))
    fail("max grad norm must be a number");
  if (config.gradientAccumulationSteps < 1)
    fail("gradient accumulation steps must be >= 1, got {}",
         config.gradientAccumulationSteps);
}

} // namespace

Trainer::Trainer(Session &session, TrainingConfig config)
    : session_(session), config_(config),
      schedule_(config.warmupSteps, config.totalSteps,
                config.decayAfterWarmup) {
  validate(config_);
  const Plan &plan = session_.plan();
  const PlanEntryPoint *train = plan.findEntryPoint(kTrainEntry);
  const PlanEntryPoint *update = plan.findEntryPoint(kUpdateEntry);
  if (!train || !update)
    fail("artifact has no '{}' entry point: compile with --train",
         train ? kUpdateEntry : kTrainEntry);
  requireInput(*train, contract::kLossScale);
  for (size_t i = 0; i < train->inputNames.size(); ++i)
    if (train->inputNames[i] == contract::kDropoutKey) {
      const PlanBuffer &key = plan.buffers[train->inputs[i]];
      if (key.dtype != DType::I64 || key.shape != Shape{2})
        fail("entry point '{}': input '{}' must be i64 [2], the artifact has "
             "{} {}",
             kTrainEntry, contract::kDropoutKey, dtypeName(key.dtype),
             formatShape(key.shape));
      feedsDropoutKey_ = true;
    }
  for (const char *name : kUpdateInputs)
    requireInput(*update, name);
  if (std::find(update->outputNames.begin(), update->outputNames.end(),
                "grad_norm") == update->outputNames.end())
    fail("entry point '{}' has no output 'grad_norm'", kUpdateEntry);
}

TensorMap Trainer::trainStep(const TensorMap &batch) {
  if (batch.count("loss_scale"))
    fail("train step: 'loss_scale' is set by the trainer from the gradient "
         "accumulation steps, not by the batch");
  if (batch.count(contract::kDropoutKey))
    fail("train step: 'dropout_key' is set by the trainer from the seed and "
         "the micro-batch count, not by the batch");
  TensorMap inputs = batch;
  inputs["loss_scale"] =
      scalarF32(1.0 / static_cast<double>(config_.gradientAccumulationSteps));
  if (feedsDropoutKey_) {
    Tensor key(DType::I64, {2});
    key.data<int64_t>()[0] = static_cast<int64_t>(config_.dropoutSeed);
    key.data<int64_t>()[1] = microBatchesTrained();
    inputs[contract::kDropoutKey] = std::move(key);
  }
  TensorMap outputs = runEntry(kTrainEntry, inputs);
  ++pending_;
  return outputs;
}

double Trainer::nextLearningRate() const {
  return config_.optimizer.learningRate * schedule_.multiplier(step_);
}

UpdateReport Trainer::applyUpdate() {
  if (pending_ == 0)
    fail("optimizer step {}: no micro-batch was accumulated since the last "
         "update",
         step_ + 1);
  const AdamWSettings &o = config_.optimizer;
  // torch counts the step before the bias corrections: the first update
  // uses t = 1.
  double t = static_cast<double>(step_ + 1);
  UpdateReport report;
  report.learningRate = nextLearningRate();
  TensorMap inputs = {
      {"lr", scalarF32(report.learningRate)},
      {"weight_decay", scalarF32(o.weightDecay)},
      {"beta1", scalarF32(o.beta1)},
      {"beta2", scalarF32(o.beta2)},
      {"eps", scalarF32(o.epsilon)},
      {"bias_correction1", scalarF32(1.0 - std::pow(o.beta1, t))},
      {"bias_correction2", scalarF32(1.0 - std::pow(o.beta2, t))},
      {"max_grad_norm", scalarF32(o.maxGradNorm)},
  };
  TensorMap outputs = runEntry(kUpdateEntry, inputs);
  report.gradNorm = outputs.at("grad_norm").at(0);
  report.microBatches = pending_;
  pending_ = 0;
  report.step = ++step_;
  return report;
}

void Trainer::setStep(int64_t step) {
  if (step < 0)
    fail("optimizer step must be >= 0, got {}", step);
  step_ = step;
}

std::vector<std::string> Trainer::optimizerStateNames() const {
  std::vector<std::string> names;
  for (const PlanBuffer &buffer : session_.plan().buffers)
    if (buffer.role == BufferRole::OptimizerState)
      names.push_back(buffer.name);
  return names;
}

} // namespace pgc::train
