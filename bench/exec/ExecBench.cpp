// Benchmark: milliseconds per optimizer step (train_step + apply_update) of a
// compiled training artifact on the CPU reference executor, and the GFLOP/s it
// reaches as a ratio to one large sgemm through the same matmul kernel.
//
// The artifact comes from `pgc compile ... --target cpu` (the demo's tiny
// PaliGemma at batch 16, seq-len 64 is the case this was written for). Inputs
// are synthetic: floats uniform in [-1, 1], integers 1 (a valid token, label
// and mask value for any vocabulary), Bool true. Speed does not depend on the
// values, only on the shapes.
#include "runtime/artifact/Plan.h"
#include "runtime/artifact/TrainingContract.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <random>

namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

pgc::Tensor syntheticInput(const pgc::PlanBuffer &buffer, std::mt19937 &rng) {
  pgc::Tensor t(buffer.dtype, buffer.shape);
  std::uniform_real_distribution<double> uniform(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, pgc::isFloat(buffer.dtype) ? uniform(rng) : 1.0);
  return t;
}

// Values in AdamW's usual range, so that the update does ordinary float work
// (no denormals or infinities).
double updateInputValue(const std::string &name) {
  if (name == "lr")
    return 1e-3;
  if (name == "weight_decay")
    return 0.01;
  if (name == "beta1")
    return 0.9;
  if (name == "beta2")
    return 0.999;
  if (name == "eps")
    return 1e-8;
  if (name == "bias_correction1")
    return 0.1;
  if (name == "bias_correction2")
    return 0.001;
  if (name == "max_grad_norm")
    return 1.0;
  return 1.0;
}

pgc::TensorMap entryInputs(const pgc::Plan &plan,
                           const pgc::PlanEntryPoint &entry,
                           std::mt19937 &rng) {
  pgc::TensorMap inputs;
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const pgc::PlanBuffer &buffer = plan.buffers[entry.inputs[i]];
    const std::string &name = entry.inputNames[i];
    if (entry.name == pgc::contract::kApplyUpdate ||
        name == pgc::contract::kLossScale) {
      pgc::Tensor scalar(buffer.dtype, buffer.shape);
      for (int64_t e = 0; e < scalar.numel(); ++e)
        scalar.set(e, updateInputValue(name));
      inputs[name] = scalar;
    } else {
      inputs[name] = syntheticInput(buffer, rng);
    }
  }
  return inputs;
}

int64_t elementsOf(const pgc::Plan &plan, uint32_t buffer) {
  return pgc::numElements(plan.buffers[buffer].shape);
}

// Multiply-adds x 2 of the matmuls and attentions of an entry point: the
// work a GPU or BLAS would count. Elementwise ops are not counted.
double entryFlops(const pgc::Plan &plan, const pgc::PlanEntryPoint &entry) {
  double flops = 0;
  for (const pgc::PlanStep &step : entry.steps) {
    if (step.op == "matmul") {
      const pgc::Shape &a = plan.buffers[step.inputs[0]].shape;
      bool transposeA = step.flag("transpose_lhs");
      double k = static_cast<double>(transposeA ? a[a.size() - 2] : a.back());
      flops += 2.0 * k * elementsOf(plan, step.outputs[0]);
    } else if (step.op == "attention" || step.op == "attention_grad") {
      // q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv].
      const pgc::Shape &q = plan.buffers[step.inputs[0]].shape;
      const pgc::Shape &k = plan.buffers[step.inputs[1]].shape;
      const pgc::Shape &v = plan.buffers[step.inputs[2]].shape;
      double rows = static_cast<double>(q[0] * q[1] * q[2]);
      double keys = static_cast<double>(k[2]);
      double d = static_cast<double>(q[3]), dv = static_cast<double>(v[3]);
      // Forward: scores and the weighted sum. Backward: scores again, dP,
      // dQ, dK and dV.
      flops += step.op == "attention" ? 2.0 * rows * keys * (d + dv)
                                      : 2.0 * rows * keys * (3 * d + 2 * dv);
    }
  }
  return flops;
}

// GFLOP/s of one n x n x n f32 product through cpu::matmul (the BLAS path
// when pgc was built with OpenBLAS): the machine's ceiling for this executor.
double sgemmGflops(int64_t n, int repeats) {
  std::mt19937 rng(1);
  pgc::PlanBuffer spec;
  spec.dtype = pgc::DType::F32;
  spec.shape = {n, n};
  pgc::Tensor a = syntheticInput(spec, rng), b = syntheticInput(spec, rng);
  pgc::Tensor out(pgc::DType::F32, {n, n});
  pgc::cpu::matmul(a, b, false, false, out); // Warm-up.
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    pgc::cpu::matmul(a, b, false, false, out);
    best = std::min(best, millisecondsSince(start));
  }
  return 2.0 * n * n * n / (best * 1e6);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Time train_step + apply_update of a training artifact on the "
               "CPU executor"};
  std::string artifact;
  int iterations = 20, warmup = 3;
  int64_t gemmSize = 1024;
  bool profile = false;
  app.add_option("artifact", artifact,
                 "A .pgc made by `pgc compile ... --target cpu` with "
                 "train_step and apply_update")
      ->required();
  app.add_option("--iterations", iterations, "Timed optimizer steps")
      ->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps first")
      ->capture_default_str();
  app.add_option("--gemm-size", gemmSize, "n of the baseline n x n x n sgemm")
      ->capture_default_str();
  app.add_flag("--profile", profile,
               "Also print the time per op kind over the timed steps");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!std::filesystem::exists(artifact))
      pgc::fail("{} does not exist: make it with `pgc compile --model "
                "paligemma --config examples/tiny-paligemma/config.json "
                "--policy policies/full.yaml --batch 16 --seq-len 64 "
                "--target cpu -o {}`",
                artifact, artifact);
    pgc::Session session(pgc::readArtifact(artifact));
    const pgc::Plan &plan = session.plan();
    const pgc::PlanEntryPoint *train =
        plan.findEntryPoint(pgc::contract::kTrainStep);
    const pgc::PlanEntryPoint *update =
        plan.findEntryPoint(pgc::contract::kApplyUpdate);
    if (!train || !update)
      pgc::fail("{} has no {} and {} entry points (compile it for training)",
                artifact, pgc::contract::kTrainStep,
                pgc::contract::kApplyUpdate);
    session.initializeParameters(0);
    std::mt19937 rng(0);
    pgc::TensorMap trainInputs = entryInputs(plan, *train, rng);
    pgc::TensorMap updateInputs = entryInputs(plan, *update, rng);

    std::vector<double> trainMs, updateMs, stepMs;
    std::map<std::string, std::pair<double, int64_t>> opTimes;
    for (int i = 0; i < warmup + iterations; ++i) {
      if (profile && i == warmup)
        session.setStepTimer([&](const pgc::PlanStep &step, double seconds) {
          opTimes[step.op].first += seconds;
          ++opTimes[step.op].second;
        });
      auto start = Clock::now();
      session.run(pgc::contract::kTrainStep, trainInputs);
      double trainTime = millisecondsSince(start);
      auto middle = Clock::now();
      session.run(pgc::contract::kApplyUpdate, updateInputs);
      double updateTime = millisecondsSince(middle);
      if (i < warmup)
        continue;
      trainMs.push_back(trainTime);
      updateMs.push_back(updateTime);
      stepMs.push_back(trainTime + updateTime);
    }
    double stepFlops = entryFlops(plan, *train) + entryFlops(plan, *update);
    double step = median(stepMs);
    double stepGflops = stepFlops / (step * 1e6);
    double baseline = sgemmGflops(gemmSize, 5);
    fmt::print("artifact: {} ({} + {} steps), {} threads\n", artifact,
               train->steps.size(), update->steps.size(),
               pgc::cpu::threadCount());
    fmt::print("train_step:   {:8.2f} ms (median of {})\n", median(trainMs),
               iterations);
    fmt::print("apply_update: {:8.2f} ms\n", median(updateMs));
    fmt::print("optimizer step: {:6.2f} ms = {:.2f} GFLOP (matmul + "
               "attention) at {:.2f} GFLOP/s\n",
               step, stepFlops / 1e9, stepGflops);
    fmt::print(
        "baseline sgemm {}^3: {:.2f} GFLOP/s; step / baseline = {:.3f}\n",
        gemmSize, baseline, stepGflops / baseline);
    fmt::print("temporaries: train_step {:.1f} MiB, apply_update {:.1f} MiB\n",
               session.temporaryBytes(pgc::contract::kTrainStep) / 1048576.0,
               session.temporaryBytes(pgc::contract::kApplyUpdate) / 1048576.0);
    std::vector<std::pair<double, std::string>> byTime;
    for (const auto &[op, time] : opTimes)
      byTime.push_back({time.first, op});
    std::sort(byTime.rbegin(), byTime.rend());
    for (const auto &[seconds, op] : byTime)
      fmt::print("  {:20} {:8.2f} ms per step ({} calls)\n", op,
                 seconds * 1e3 / iterations, opTimes[op].second / iterations);
  } catch (const std::exception &e) {
    fmt::print(stderr, "pgc-bench-exec: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
