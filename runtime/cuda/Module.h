// Loaded kernel modules and launches: CUBIN or PTX from the kernel cache, for
// the current device.
#pragma once

#include "runtime/cuda/Device.h"
#include "runtime/cuda/KernelCache.h"

#include <string>

namespace pgc::cuda {

struct LaunchShape {
  unsigned gridX = 1, gridY = 1, gridZ = 1;
  unsigned blockX = 1, blockY = 1, blockZ = 1;
  unsigned sharedBytes = 0;
};

class Module {
public:
  /// Loads a CUBIN, or PTX that the driver compiles for the device.
  Module(const Context &context, const CompiledKernel &compiled);
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  ~Module();
  /// The extern "C" kernel `name`; throws pgc::Error naming it if absent.
  api::CUfunction function(const char *name) const;

private:
  const Context &context_;
  api::CUmodule module_ = nullptr;
};

/// Compiles `source` for the context's device through `cache` (target from
/// chooseTarget) and loads it.
Module loadKernelModule(const Context &context, const Nvrtc &nvrtc,
                        KernelCache &cache, const KernelSource &source);

/// cuLaunchKernel with `arguments` pointing at each kernel parameter.
void launchKernel(const Stream &stream, api::CUfunction function,
                  const LaunchShape &shape, void **arguments, const char *what);

} // namespace pgc::cuda
