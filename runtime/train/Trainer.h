// The training driver: micro-batches through train_step, optimizer steps
// through apply_update.
#pragma once

#include "runtime/exec/Session.h"

#include "runtime/train/Schedule.h"
#include <functional>

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::train {

/// AdamW hyperparameters, named and defaulted as Hugging Face
/// TrainingArguments (learning_rate, weight_decay, adam_beta1, adam_beta2,
/// adam_epsilon, max_grad_norm; max_grad_norm <= 0 turns clipping off).
struct AdamWSettings {
  double learningRate = 5e-5;
  double weightDecay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double maxGradNorm = 1.0;
};

struct TrainingConfig {
  AdamWSettings optimizer;
  /// Micro-batches per optimizer step; each contributes loss / this many.
  int64_t gradientAccumulationSteps = 1;
  int64_t warmupSteps = 0;
  /// Optimizer steps of the whole run (the schedule reaches 0 there).
  int64_t totalSteps = 1;
  /// false: constant rate after the warmup (constant_with_warmup).
  bool decayAfterWarmup = true;
  /// Keys the dropout masks of a train_step with a `dropout_key` input,
  /// together with the number of micro-batches trained before this one.
  uint64_t dropoutSeed = 0;
};

/// What one optimizer step did, for logging.
struct UpdateReport {
  int64_t step = 0;         ///< updates done, this one included
  double learningRate = 0;  ///< the scheduled rate this update used
  double gradNorm = 0;      ///< global gradient norm before clipping
  int64_t microBatches = 0; ///< micro-batches accumulated into it
};

/// Drives a Session compiled with pg-autodiff + pg-optimizer: `train_step`
/// (forward's inputs + loss_scale; adds scaled gradients to the
/// accumulators) and `apply_update` (clipping, AdamW, zeroing). Holds the
/// optimizer step count, which the bias corrections and the schedule read;
/// the moments live in the Session as state buffers.
class Trainer {
public:
  /// Checks the settings and that the session has both entry points with
  /// the inputs this driver passes (pgc::Error naming what is wrong).
  Trainer(Session &session, TrainingConfig config);

  /// Runs train_step on one micro-batch (forward's inputs; loss_scale is
  /// added here as 1 / gradientAccumulationSteps, and dropout_key, where
  /// train_step has one, as [dropoutSeed, microBatchesTrained()]) and
  /// returns its outputs.
  TensorMap trainStep(const TensorMap &batch);

  /// One optimizer step over the gradients accumulated since the last one:
  /// lr = learningRate * schedule(step), bias corrections 1 - beta^(step+1)
  /// in double. Fails if no micro-batch was accumulated.
  UpdateReport applyUpdate();

  /// The learning rate the next update will use.
  double nextLearningRate() const;

  /// Optimizer steps done so far (torch's state["step"]); setStep restores
  /// it when resuming, together with the optimizer state buffers.
  int64_t step() const { return step_; }
  void setStep(int64_t step);
  /// Micro-batches accumulated since the last update.
  int64_t pendingMicroBatches() const { return pending_; }
  /// Micro-batches trained in the whole run: step() whole steps of
  /// gradientAccumulationSteps each, plus the pending ones. The dropout
  /// counter, so that a resumed run draws the masks it would have drawn.
  int64_t microBatchesTrained() const {
    return step_ * config_.gradientAccumulationSteps + pending_;
  }

  /// Runs the two entry points somewhere else than the session, e.g. on a
  /// CudaSession that holds the same state (pgc run --device cuda); the
  /// caller keeps the session's copy of the state in step when it reads it.
  using EntryRunner =
      std::function<TensorMap(const std::string &, const TensorMap &)>;
  void setEntryRunner(EntryRunner runner) { runner_ = std::move(runner); }

  /// Names of the AdamW moments (for checkpoints, read with Session::state).
  std::vector<std::string> optimizerStateNames() const;

  const TrainingConfig &config() const { return config_; }
  const LinearSchedule &schedule() const { return schedule_; }
  Session &session() { return session_; }

private:
  Session &session_;
  TrainingConfig config_;
  LinearSchedule schedule_;
  int64_t step_ = 0;
  int64_t pending_ = 0;
  bool feedsDropoutKey_ = false;
  EntryRunner runner_;

  TensorMap runEntry(const std::string &name, const TensorMap &inputs) {
    return runner_ ? runner_(name, inputs) : session_.run(name, inputs);
  }
};

} // namespace pgc::train
