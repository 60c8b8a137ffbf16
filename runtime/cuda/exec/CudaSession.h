// Runs a plan's entry points on an NVIDIA GPU: every step on the device, with
// the artifact's fused kernels, cuBLASLt GEMMs and the kernels of
// runtime/cuda/kernels; the CPU Session stays the oracle and the holder of
// host-side state (initialisation, weights, checkpoints).
#pragma once

#include "runtime/artifact/Plan.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/KernelCache.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/exec/Session.h"

#include <memory>
#include <string>
#include <vector>

namespace pgc::cuda {

/// The steps of `plan` that no GPU kernel covers, one line each ("entry point
/// 'train_step' step 12: attention(...)"); empty when every step runs on the
/// GPU. Elementwise steps are covered only inside a fused group (pgc compile
/// runs pg-fuse, which wraps every one). Needs no device.
std::vector<std::string> stepsWithoutCudaKernel(const Plan &plan);

/// Whether a GPU kernel runs `op` as a step of its own (elementwise ops run
/// only in fused groups).
bool hasCudaLauncher(const std::string &op);

/// Offsets and sizes of device buffers are multiples of this (cuBLASLt's
/// heuristics assume 256-byte aligned operands).
constexpr size_t kDeviceAlignment = 256;

/// The arena of `entry` on the GPU: planArena with 256-byte offsets, where
/// every buffer a fused group touches is live at the group's first step. The
/// group runs as one kernel that reads all its inputs and writes all its
/// outputs element by element, so an input whose last reader is the group's
/// first step must not share bytes with an output of a later step of the
/// group (planArena, which sees the steps one by one, would allow it).
/// Needs no device.
ArenaPlan planCudaArena(const Plan &plan, const PlanEntryPoint &entry);

class CudaSession {
public:
  /// Checks that every step has a GPU kernel (throws naming the first that
  /// does not), allocates the persistent buffers on the device and uploads
  /// the constants. Kernels load on first use, from the artifact's CUBIN for
  /// the device when it has one, else through NVRTC and `cache`.
  CudaSession(const Context &context, Plan plan, KernelCache &cache);
  ~CudaSession();
  CudaSession(const CudaSession &) = delete;
  CudaSession &operator=(const CudaSession &) = delete;

  const Plan &plan() const;
  const Stream &stream() const;

  /// Copies every persistent buffer but the constants (parameters, optimizer
  /// state, gradients) from a CPU Session of the same plan, which owns
  /// initialisation, weight loading and NF4 packing.
  void uploadState(const Session &host);
  /// Copies them back, for checkpoints and comparisons: those that a step
  /// writes (trainable parameters, gradients, optimizer state), and any the
  /// host does not hold; frozen weights are the host's already.
  void downloadState(Session &host) const;

  /// Runs an entry point as Session::run does (inputs bound by name, floats
  /// converted to the declared dtype) and returns its outputs on the host.
  TensorMap run(const std::string &entryPoint, const TensorMap &inputs);
  /// The same, copying back only the outputs named in `outputs` (an unknown
  /// name is an error): train_step's logits are 4.7 GB for the 3B model at
  /// batch 16, and a training loop reads only the loss.
  TensorMap run(const std::string &entryPoint, const TensorMap &inputs,
                const std::vector<std::string> &outputs);

  /// Kernels loaded from the artifact's CUBINs, and compiled from source.
  int64_t kernelsFromArtifact() const;
  int64_t kernelsFromSource() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace pgc::cuda
