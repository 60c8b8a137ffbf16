// The names pg-optimizer gives the training entry points and their inputs,
// which the Trainer calls by.
#pragma once

namespace pgc::contract {

constexpr const char *kTrainStep = "train_step";
constexpr const char *kApplyUpdate = "apply_update";
/// forward's and train_step's rank-0 output that pgc run reads: the mean loss
/// of the micro-batch.
constexpr const char *kLoss = "loss";
/// train_step's extra rank-0 input: the factor on this micro-batch's gradient.
constexpr const char *kLossScale = "loss_scale";
/// train_step's i64 [2] input when LoRA dropout is on: the run's seed and the
/// number of micro-batches trained before this one (pg.dropout's key).
constexpr const char *kDropoutKey = "dropout_key";
/// apply_update's output: the global gradient norm before clipping.
constexpr const char *kGradNorm = "grad_norm";

/// apply_update's rank-0 f32 inputs, in argument order.
constexpr const char *kUpdateInputs[] = {"lr",
                                         "weight_decay",
                                         "beta1",
                                         "beta2",
                                         "eps",
                                         "bias_correction1",
                                         "bias_correction2",
                                         "max_grad_norm"};

} // namespace pgc::contract
