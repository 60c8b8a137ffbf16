// A loaded plan with its persistent state, executed op by op on the CPU
// reference kernels.
#pragma once

#include "runtime/artifact/Plan.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/support/Tensor.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace pgc {

/// Named tensors, as entry points take and return them.
using TensorMap = std::map<std::string, Tensor>;

/// Holds a Plan and the buffers that live across calls (parameters,
/// optimizer state, gradients, constants) and runs entry points on the CPU
/// reference executor: one kernel per step, in plan order. Construction
/// checks that every step has a CPU kernel.
class Session {
public:
  explicit Session(Plan plan);

  const Plan &plan() const { return plan_; }

  /// Sets a parameter from a tensor of the same shape; floats convert to
  /// the parameter's dtype (round to nearest even). An nf4 parameter takes
  /// a float tensor of its logical shape and quantizes it as bitsandbytes
  /// does (f32 and bf16 as they are, other floats through f32), or its u8
  /// storage bytes (Nf4Storage.h) unchanged. Errors name the parameter.
  void setParameter(const std::string &name, const Tensor &value);
  /// The current value of a parameter (shares storage); for an nf4
  /// parameter, its u8 storage bytes.
  const Tensor &parameter(const std::string &name) const;
  /// Parameters without a value yet.
  std::vector<std::string> unsetParameters() const;
  /// Draws every parameter from its initialiser ("normal(0.02)", "zeros",
  /// "ones", "uniform(a,b)") with a counter-based generator: value i of
  /// parameter p depends only on (seed, p's name, i). nf4 parameters are
  /// drawn in f32 at their logical shape and then quantized. With `only`,
  /// just the parameters it accepts (fresh LoRA adapters on loaded base
  /// weights); the values do not depend on which others are drawn.
  void initializeParameters(
      uint64_t seed,
      const std::function<bool(const PlanParameter &)> &only = nullptr);

  /// Runs an entry point. Inputs are bound by name and must have the
  /// declared shapes (floats convert to the declared dtype; integers must
  /// match). Returns the named outputs.
  TensorMap run(const std::string &entryPoint, const TensorMap &inputs);

  /// Gradient accumulators and optimizer state, by name (for checkpoints).
  std::vector<std::string> stateNames() const;
  const Tensor &state(const std::string &name) const;
  void setState(const std::string &name, const Tensor &value);

  /// A persistent buffer (parameter, optimizer state, gradient, constant).
  Tensor &persistentBuffer(uint32_t index) { return persistent_[index]; }
  const Tensor &persistentBuffer(uint32_t index) const {
    return persistent_[index];
  }

  /// Bytes of the arena that holds an entry point's temporaries (see
  /// ArenaPlan.h); allocated at its first run and reused by every later one.
  size_t temporaryBytes(const std::string &entryPoint) const;
  /// Test hook: fill each step's temporary outputs with 0xff bytes (NaN in
  /// every float dtype) right before its kernel runs, to show that no
  /// kernel reads an output element it has not written.
  /// PGC_EXEC_POISON=1 in the environment turns it on too.
  void setPoisonTemporaries(bool poison) { poisonTemporaries_ = poison; }
  /// Profiling hook: called after every step with its wall time (null, the
  /// default, turns timing off).
  using StepTimer = std::function<void(const PlanStep &, double seconds)>;
  void setStepTimer(StepTimer timer) { stepTimer_ = std::move(timer); }

private:
  using Kernel = std::function<void(const PlanStep &, std::vector<Tensor *> &,
                                    std::vector<Tensor *> &)>;
  void setNf4Parameter(const PlanParameter &param, const Tensor &value);

  Plan plan_;
  std::vector<Tensor> persistent_;
  std::vector<bool> parameterSet_;
  std::vector<std::vector<Kernel>> kernels_; // per entry point, per step
  /// Per entry point: the temporaries' layout, their arena (null until the
  /// first run) and a tensor per plan buffer (arena views and, during a
  /// run, the bound inputs).
  struct EntryMemory {
    ArenaPlan layout;
    std::shared_ptr<void> arena;
    std::vector<Tensor> values;
  };
  std::vector<EntryMemory> memory_;
  bool poisonTemporaries_ = false;
  StepTimer stepTimer_;
};

/// The CPU kernel for a step's op, or nullptr if the op has none.
using StepKernel = std::function<void(const PlanStep &, std::vector<Tensor *> &,
                                      std::vector<Tensor *> &)>;
StepKernel findCpuKernel(const std::string &op);

} // namespace pgc
