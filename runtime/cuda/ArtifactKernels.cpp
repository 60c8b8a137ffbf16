// Chooses, checks and loads the kernels an artifact carries (CUBIN or source)
// for the current device.
#include "runtime/cuda/ArtifactKernels.h"

#include "runtime/support/Error.h"

#include <cstring>

namespace pgc::cuda {
namespace {

constexpr uint16_t kElfMachineCuda = 190; // EM_CUDA

template <typename T>
T readLittleEndian(const std::vector<uint8_t> &bytes, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(bytes[offset + i]) << (8 * i);
  return value;
}

/// 80 for "sm_80"; -1 for anything else.
int parseSmArch(const std::string &arch) {
  if (arch.size() < 4 || arch.compare(0, 3, "sm_") != 0 || arch.size() > 6)
    return -1;
  int value = 0;
  for (size_t i = 3; i < arch.size(); ++i) {
    if (arch[i] < '0' || arch[i] > '9')
      return -1;
    value = value * 10 + (arch[i] - '0');
  }
  return value;
}

} // namespace

int cubinArchitecture(const std::vector<uint8_t> &bytes,
                      const std::string &what) {
  // The fixed ELF64 header is 64 bytes; e_machine at 18, e_flags at 48.
  if (bytes.size() < 64 || std::memcmp(bytes.data(),
                                       "\x7f"
                                       "ELF",
                                       4) != 0)
    fail("{}: not a CUBIN (no ELF header)", what);
  if (bytes[4] != 2 || bytes[5] != 1)
    fail("{}: not a CUBIN (ELF class {} data {}, want 64-bit little-endian)",
         what, bytes[4], bytes[5]);
  uint16_t machine = readLittleEndian<uint16_t>(bytes, 18);
  if (machine != kElfMachineCuda)
    fail("{}: not a CUBIN (ELF machine {}, want {} for CUDA)", what, machine,
         kElfMachineCuda);
  uint32_t flags = readLittleEndian<uint32_t>(bytes, 48);
  int abiVersion = bytes[8];
  int arch = abiVersion >= 8 ? static_cast<int>((flags >> 8) & 0xff)
                             : static_cast<int>(flags & 0xff);
  if (arch < 10)
    fail("{}: CUBIN names no SM architecture (e_flags {:#x})", what, flags);
  return arch;
}

bool cubinRunsOn(int cubinArch, int deviceArch) {
  return cubinArch / 10 == deviceArch / 10 && cubinArch <= deviceArch;
}

ArtifactKernelCode chooseArtifactKernel(const Plan &plan, uint32_t kernelIndex,
                                        int deviceArch) {
  if (kernelIndex >= plan.kernels.size())
    fail("kernel {}: the artifact has {} kernels", kernelIndex,
         plan.kernels.size());
  const PlanKernel &source = plan.kernels[kernelIndex];
  if (source.target != "cuda")
    fail("kernel {}: target '{}' is not cuda", source.name, source.target);
  if (!source.arch.empty())
    fail("kernel {}: entry {} is a CUBIN for {}, not the kernel's source",
         source.name, kernelIndex, source.arch);
  ArtifactKernelCode code;
  code.source = &source;
  int chosenArch = -1;
  for (const PlanKernel &entry : plan.kernels) {
    if (entry.target != "cuda" || entry.name != source.name ||
        entry.arch.empty())
      continue;
    std::string what = "kernel " + entry.name + " for " + entry.arch;
    int declared = parseSmArch(entry.arch);
    if (declared < 0)
      fail("{}: '{}' is not an architecture such as sm_80", what, entry.arch);
    int actual = cubinArchitecture(entry.binary, what);
    if (actual != declared)
      fail("{}: the CUBIN was built for sm_{}", what, actual);
    if (!cubinRunsOn(declared, deviceArch))
      continue;
    // The exact architecture wins; otherwise the newest that still runs.
    if (chosenArch != deviceArch && declared > chosenArch) {
      chosenArch = declared;
      code.cubin = &entry;
    }
  }
  return code;
}

ArtifactKernels::ArtifactKernels(const Context &context, const Plan &plan,
                                 const Nvrtc &nvrtc, KernelCache &cache)
    : context_(context), plan_(plan), nvrtc_(nvrtc), cache_(cache) {}

api::CUfunction ArtifactKernels::function(uint32_t kernelIndex) {
  auto found = functions_.find(kernelIndex);
  if (found != functions_.end())
    return found->second;
  ArtifactKernelCode code =
      chooseArtifactKernel(plan_, kernelIndex, context_.info().arch());
  std::unique_ptr<Module> module;
  if (code.cubin) {
    CompiledKernel compiled;
    compiled.target = CompileTarget{parseSmArch(code.cubin->arch), false};
    compiled.image.assign(code.cubin->binary.begin(), code.cubin->binary.end());
    try {
      module = std::make_unique<Module>(context_, compiled);
      ++fromArtifact_;
    } catch (const Error &) {
      // A CUBIN of the right architecture can still be refused: one built
      // by a newer toolkit than the driver knows (CUDA 13's ELF ABI 8 under
      // a CUDA 12 driver) does not load. The source is in the artifact, and
      // this machine's NVRTC makes code its driver takes.
    }
  }
  if (!module) {
    KernelSource source{code.source->name + ".cu", code.source->source, {}};
    CompileTarget target =
        chooseTarget(context_.info().arch(), nvrtc_.supportedArchs());
    module = std::make_unique<Module>(
        context_, cache_.getOrCompile(nvrtc_, source, target));
    ++fromSource_;
  }
  api::CUfunction function = module->function(code.source->name.c_str());
  modules_[kernelIndex] = std::move(module);
  functions_[kernelIndex] = function;
  return function;
}

} // namespace pgc::cuda
