// Ahead-of-time CUDA: the artifact's generated kernels compiled to CUBINs for
// chosen GPU architectures, on a machine without a GPU.
#pragma once

#include "runtime/artifact/Plan.h"

#include <string>
#include <vector>

namespace pgc::compiler {

/// Parses "sm_80,sm_90" (or "80,90") into architectures; a bad or unsupported
/// entry is a pgc::Error naming it.
std::vector<int> parseCudaArchs(const std::string &list);

/// Compiles every CUDA source kernel of `plan` with NVRTC for each of `archs`
/// and adds one kernel entry per (kernel, arch) holding the CUBIN, named as
/// its source entry. Throws pgc::Error when NVRTC is unavailable or a kernel
/// fails to compile. Returns the number of CUBINs added.
size_t addCudaBinaries(Plan &plan, const std::vector<int> &archs);

} // namespace pgc::compiler
