// The GPU launcher of each plan op that runs as a step of its own (not in a
// fused elementwise group): GEMMs, NF4 dequantization, copies, layout,
// indexing, reductions and normalisations.
#pragma once

#include "runtime/artifact/Plan.h"
#include "runtime/cuda/Blas.h"
#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/KernelCache.h"
#include "runtime/cuda/Module.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pgc::cuda {

/// What launchers share: the stream, cuBLASLt and the built-in kernel modules
/// (each created on first use), and the NF4 constants on the device.
class StepResources {
public:
  StepResources(const Context &context, const Stream &stream,
                KernelCache &cache);
  ~StepResources();

  const Context &context() const { return context_; }
  const Stream &stream() const { return stream_; }
  Blas &blas();
  /// The module of a built-in kernel source (runtime/cuda/kernels).
  const Module &module(const KernelSource &source);
  /// Device scratch of at least `bytes`, shared by every launcher: valid
  /// until the next call (steps run one after another on one stream).
  api::CUdeviceptr scratch(size_t bytes);
  /// An 8-byte device word where indexing kernels report a bad id.
  api::CUdeviceptr idWord();
  /// bitsandbytes' signed dynamic map (256 f32), for double-quantized NF4.
  api::CUdeviceptr nf4DynamicMap();
  /// The absmax offset of the NF4 buffer at `address` (it is a kernel
  /// argument; the session records it when it uploads the parameter).
  void setNf4Offset(api::CUdeviceptr address, float offset);
  float nf4Offset(api::CUdeviceptr address, const std::string &what) const;

private:
  const Context &context_;
  const Stream &stream_;
  KernelCache &cache_;
  std::unique_ptr<Blas> blas_;
  std::map<std::string, std::unique_ptr<Module>> modules_;
  std::unique_ptr<DeviceBuffer> dynamicMap_, scratch_, idWord_;
  std::map<api::CUdeviceptr, float> nf4Offsets_;
};

using StepLauncher = void (*)(StepResources &resources, const PlanStep &step,
                              const std::vector<DeviceTensor> &in,
                              const std::vector<DeviceTensor> &out);

/// The launcher of `op`, or null when no GPU kernel runs it on its own.
StepLauncher findCudaLauncher(const std::string &op);

} // namespace pgc::cuda
