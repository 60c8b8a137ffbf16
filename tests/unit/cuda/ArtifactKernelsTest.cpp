// Choosing an artifact's CUBIN or source for a device, and reading a CUBIN's
// architecture: with CUBINs NVRTC makes here for sm_80, sm_86 and sm_90.
#include "runtime/cuda/ArtifactKernels.h"
#include "runtime/cuda/Nvrtc.h"
#include "runtime/support/Error.h"

#include <functional>
#include <gtest/gtest.h>

namespace pgc::cuda {
namespace {

#define REQUIRE_NVRTC()                                                        \
  if (!Nvrtc::instance().available())                                          \
  GTEST_SKIP() << "NVRTC not available: "                                      \
               << Nvrtc::instance().unavailableReason()

const char *const kName = "pgc_test_add_one";
const char *const kSource = R"CUDA(
extern "C" __global__ void pgc_test_add_one(float *x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    x[i] = __fadd_rn(x[i], 1.0f);
}
)CUDA";

PlanKernel sourceEntry() {
  PlanKernel kernel;
  kernel.target = "cuda";
  kernel.name = kName;
  kernel.source = kSource;
  return kernel;
}

PlanKernel cubinEntry(int arch) {
  CompiledKernel compiled = Nvrtc::instance().compile(
      KernelSource{"add_one.cu", kSource, {}}, CompileTarget{arch, false});
  PlanKernel kernel;
  kernel.target = "cuda";
  kernel.name = kName;
  kernel.arch = "sm_" + std::to_string(arch);
  kernel.binary.assign(compiled.image.begin(), compiled.image.end());
  return kernel;
}

std::string errorOf(const std::function<void()> &run) {
  try {
    run();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

TEST(ArtifactKernels, CubinArchitectureIsReadFromTheElfHeader) {
  REQUIRE_NVRTC();
  for (int arch : {80, 86, 90})
    EXPECT_EQ(cubinArchitecture(cubinEntry(arch).binary, "k"), arch) << arch;
}

TEST(ArtifactKernels, BytesThatAreNotACubinAreRefused) {
  REQUIRE_NVRTC();
  std::vector<uint8_t> good = cubinEntry(80).binary;
  std::vector<uint8_t> truncated(good.begin(), good.begin() + 40);
  std::vector<uint8_t> badMagic = good, badClass = good, x86 = good;
  badMagic[1] = 'X';
  badClass[4] = 1; // 32-bit
  x86[18] = 62;    // EM_X86_64
  x86[19] = 0;
  std::vector<uint8_t> noArch = good;
  for (int i = 48; i < 52; ++i)
    noArch[i] = 0;
  for (const auto &entry :
       std::vector<std::pair<std::vector<uint8_t>, std::string>>{
           {{}, "k: not a CUBIN (no ELF header)"},
           {truncated, "k: not a CUBIN (no ELF header)"},
           {badMagic, "k: not a CUBIN (no ELF header)"},
           {badClass, "k: not a CUBIN (ELF class 1 data 1, want 64-bit "
                      "little-endian)"},
           {x86, "k: not a CUBIN (ELF machine 62, want 190 for CUDA)"},
           {noArch, "k: CUBIN names no SM architecture (e_flags 0x0)"}})
    EXPECT_EQ(errorOf([&] { cubinArchitecture(entry.first, "k"); }),
              entry.second);
}

TEST(ArtifactKernels, CubinsRunOnTheirMajorVersionFromTheirMinorUp) {
  EXPECT_TRUE(cubinRunsOn(80, 80));
  EXPECT_TRUE(cubinRunsOn(80, 86));
  EXPECT_TRUE(cubinRunsOn(80, 89));
  EXPECT_FALSE(cubinRunsOn(86, 80));
  EXPECT_FALSE(cubinRunsOn(80, 90));
  EXPECT_FALSE(cubinRunsOn(90, 100));
  EXPECT_FALSE(cubinRunsOn(90, 80));
}

TEST(ArtifactKernels, ChoosesTheExactCubinThenAnOlderMinorThenTheSource) {
  REQUIRE_NVRTC();
  Plan plan;
  plan.kernels = {sourceEntry(), cubinEntry(80), cubinEntry(90)};
  auto chosen = [&](int deviceArch) {
    ArtifactKernelCode code = chooseArtifactKernel(plan, 0, deviceArch);
    EXPECT_EQ(code.source, &plan.kernels[0]);
    return code.cubin ? code.cubin->arch : std::string("source");
  };
  EXPECT_EQ(chosen(80), "sm_80");
  EXPECT_EQ(chosen(86), "sm_80");
  EXPECT_EQ(chosen(90), "sm_90");
  EXPECT_EQ(chosen(100), "source"); // no Blackwell CUBIN: NVRTC compiles it
  EXPECT_EQ(chosen(75), "source");
  // With an sm_86 CUBIN as well, an sm_86 device takes it over sm_80's
  // whatever the order of the entries.
  plan.kernels.insert(plan.kernels.begin() + 1, cubinEntry(86));
  EXPECT_EQ(chosen(86), "sm_86");
  EXPECT_EQ(chosen(89), "sm_86");
  EXPECT_EQ(chosen(80), "sm_80");
  // Another kernel's CUBINs are never taken.
  plan.kernels[3].name = "pgc_other";
  EXPECT_EQ(chosen(90), "source");
}

TEST(ArtifactKernels, AMislabelledOrBadEntryIsAnError) {
  REQUIRE_NVRTC();
  Plan plan;
  plan.kernels = {sourceEntry(), cubinEntry(90)};
  plan.kernels[1].arch = "sm_80";
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 0, 90); }),
            "kernel pgc_test_add_one for sm_80: the CUBIN was built for sm_90");
  plan.kernels[1].arch = "compute_90";
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 0, 90); }),
            "kernel pgc_test_add_one for compute_90: 'compute_90' is not an "
            "architecture such as sm_80");
  plan.kernels[1].arch = "sm_90";
  plan.kernels[1].binary.resize(10);
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 0, 90); }),
            "kernel pgc_test_add_one for sm_90: not a CUBIN (no ELF header)");
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 1, 90); }),
            "kernel pgc_test_add_one: entry 1 is a CUBIN for sm_90, not the "
            "kernel's source");
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 2, 90); }),
            "kernel 2: the artifact has 2 kernels");
  plan.kernels[0].target = "cpu";
  EXPECT_EQ(errorOf([&] { chooseArtifactKernel(plan, 0, 90); }),
            "kernel pgc_test_add_one: target 'cpu' is not cuda");
}

} // namespace
} // namespace pgc::cuda
