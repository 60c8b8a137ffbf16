// The kernels an artifact carries, made ready for the current device: a
// CUBIN from the artifact when one fits the device, else the kernel's CUDA
// source compiled through NVRTC and the on-disk kernel cache.
#pragma once

#include "runtime/artifact/Plan.h"
#include "runtime/cuda/Module.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pgc::cuda {

/// The SM architecture (80 for sm_80) a CUBIN was built for, read from its
/// ELF header; throws pgc::Error naming `what` when the bytes are not a
/// 64-bit little-endian CUDA ELF. The SM number sits in e_flags: bits 8-15
/// from ELF ABI version 8 (CUDA 13's NVRTC), bits 0-7 before.
int cubinArchitecture(const std::vector<uint8_t> &bytes,
                      const std::string &what);

/// Whether code built for `cubinArch` runs on a device of `deviceArch`:
/// CUDA runs a CUBIN on the same major version with the same or a higher
/// minor one (sm_80 on sm_86), never across majors.
bool cubinRunsOn(int cubinArch, int deviceArch);

/// Where the code of one artifact kernel comes from on a device.
struct ArtifactKernelCode {
  /// The kernel's source entry (arch empty); always set.
  const PlanKernel *source = nullptr;
  /// The best CUBIN entry for the device (exact architecture first, then the
  /// highest that runs on it); null when none does and the source must be
  /// compiled.
  const PlanKernel *cubin = nullptr;
};

/// Chooses the code of `plan.kernels[kernelIndex]` (a source entry, as steps
/// name them) for a device of `deviceArch`. Every CUBIN entry of the same
/// name is checked: its declared arch ("sm_80") must be the one in its ELF
/// header, or this throws naming the kernel. Throws too if the index is out
/// of range or names a CUBIN entry or a non-CUDA target.
ArtifactKernelCode chooseArtifactKernel(const Plan &plan, uint32_t kernelIndex,
                                        int deviceArch);

/// Loads the artifact's kernels on first use, one module per kernel. The
/// plan must outlive this object.
class ArtifactKernels {
public:
  ArtifactKernels(const Context &context, const Plan &plan, const Nvrtc &nvrtc,
                  KernelCache &cache);

  /// The entry point of kernel `kernelIndex` (its name), loaded if needed:
  /// from the chosen CUBIN, or from the source through NVRTC when there is
  /// none or the driver refuses it (a CUBIN of a newer toolkit).
  api::CUfunction function(uint32_t kernelIndex);

  /// How the kernels loaded so far were obtained.
  int64_t loadedFromArtifact() const { return fromArtifact_; }
  int64_t loadedFromSource() const { return fromSource_; }

private:
  const Context &context_;
  const Plan &plan_;
  const Nvrtc &nvrtc_;
  KernelCache &cache_;
  std::map<uint32_t, std::unique_ptr<Module>> modules_;
  std::map<uint32_t, api::CUfunction> functions_;
  int64_t fromArtifact_ = 0, fromSource_ = 0;
};

} // namespace pgc::cuda
