// pgc compile --cuda-arch: CUBINs for the generated kernels, made with NVRTC
// (loaded with dlopen, so it needs the toolkit but no GPU or driver).
#include "tools/pgc-compile/CudaBinaries.h"

#include "runtime/cuda/Nvrtc.h"
#include "runtime/support/Error.h"

#include <algorithm>

namespace pgc::compiler {

std::vector<int> parseCudaArchs(const std::string &list) {
  std::vector<int> archs;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, end - start);
    std::string digits = item.rfind("sm_", 0) == 0 ? item.substr(3) : item;
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      fail("--cuda-arch: '{}' is not an architecture such as sm_80", item);
    int arch = std::stoi(digits);
    if (std::find(archs.begin(), archs.end(), arch) == archs.end())
      archs.push_back(arch);
    start = end + 1;
  }
  return archs;
}

size_t addCudaBinaries(Plan &plan, const std::vector<int> &archs) {
  cuda::Nvrtc &nvrtc = cuda::Nvrtc::instance();
  if (!nvrtc.available())
    fail("--cuda-arch: NVRTC is not available: {}", nvrtc.unavailableReason());
  std::vector<int> supported = nvrtc.supportedArchs();
  for (int arch : archs)
    if (std::find(supported.begin(), supported.end(), arch) == supported.end())
      fail("--cuda-arch: NVRTC {} cannot compile for sm_{}", nvrtc.version(),
           arch);
  std::vector<PlanKernel> binaries;
  for (const PlanKernel &kernel : plan.kernels) {
    if (kernel.target != "cuda" || !kernel.arch.empty())
      continue;
    cuda::KernelSource source{kernel.name + ".cu", kernel.source, {}};
    for (int arch : archs) {
      cuda::CompiledKernel compiled =
          nvrtc.compile(source, cuda::CompileTarget{arch, false});
      PlanKernel binary;
      binary.target = "cuda";
      binary.name = kernel.name;
      binary.arch = compiled.target.name();
      binary.binary.assign(compiled.image.begin(), compiled.image.end());
      binaries.push_back(std::move(binary));
    }
  }
  for (PlanKernel &binary : binaries)
    plan.kernels.push_back(std::move(binary));
  return binaries.size();
}

} // namespace pgc::compiler
