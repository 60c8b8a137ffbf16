// Compiles every kernel of the CUDA layer for sm_80 and sm_90 (no GPU needed)
// and checks compile-error reporting.
#include "runtime/cuda/Nvrtc.h"
#include "runtime/cuda/kernels/Attention.h"
#include "runtime/cuda/kernels/Dropout.h"
#include "runtime/cuda/kernels/FusedElementwise.h"
#include "runtime/cuda/kernels/Layout.h"
#include "runtime/cuda/kernels/Nf4Dequantize.h"
#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/cuda/kernels/RopeLoss.h"

#include <gtest/gtest.h>

namespace pgc::cuda {
namespace {

std::vector<const KernelSource *> allKernelSources() {
  return {&nf4DequantizeSource(), &gegluSource(),    &dropoutSource(),
          &reduceSource(),        &softmaxSource(),  &normsSource(),
          &layoutSource(),        &indexingSource(), &ropeSource(),
          &crossEntropySource(),  &attentionSource()};
}

#define REQUIRE_NVRTC()                                                        \
  if (!Nvrtc::instance().available())                                          \
  GTEST_SKIP() << "NVRTC not available: "                                      \
               << Nvrtc::instance().unavailableReason()

TEST(Nvrtc, CompilesEveryKernelToCubinForA100AndH100) {
  REQUIRE_NVRTC();
  for (const KernelSource *source : allKernelSources()) {
    for (int arch : {80, 90}) {
      CompiledKernel compiled =
          Nvrtc::instance().compile(*source, CompileTarget{arch, false});
      // A CUBIN is an ELF image for the NVIDIA CUDA machine (EM_CUDA = 190).
      ASSERT_GT(compiled.image.size(), 64u) << source->name;
      EXPECT_EQ(compiled.image.substr(0, 4), "\x7f"
                                             "ELF")
          << source->name;
      EXPECT_EQ(static_cast<uint8_t>(compiled.image[18]), 190) << source->name;
    }
  }
}

TEST(Nvrtc, CompilesPtxForTheFallbackPath) {
  REQUIRE_NVRTC();
  CompiledKernel compiled =
      Nvrtc::instance().compile(nf4DequantizeSource(), CompileTarget{90, true});
  EXPECT_NE(compiled.image.find(".target sm_90"), std::string::npos);
  EXPECT_NE(compiled.image.find("pgc_nf4_dequantize_bf16_nested"),
            std::string::npos);
}

TEST(Nvrtc, SupportsTheArchitecturesTheArtifactCarries) {
  REQUIRE_NVRTC();
  std::vector<int> archs = Nvrtc::instance().supportedArchs();
  EXPECT_NE(std::find(archs.begin(), archs.end(), 80), archs.end());
  EXPECT_NE(std::find(archs.begin(), archs.end(), 90), archs.end());
}

TEST(Nvrtc, CompileErrorNamesTheLineAndQuotesIt) {
  REQUIRE_NVRTC();
  KernelSource broken{"broken.cu",
                      "extern \"C\" __global__ void k(float *x) {\n"
                      "  x[0] = 1.0f;\n"
                      "  x[1] = undefinedName;\n"
                      "}\n",
                      {}};
  try {
    Nvrtc::instance().compile(broken, CompileTarget{80, false});
    FAIL() << "a broken kernel compiled";
  } catch (const NvrtcCompileError &e) {
    std::string message = e.what();
    EXPECT_NE(message.find("broken.cu:3:"), std::string::npos) << message;
    EXPECT_NE(message.find("`x[1] = undefinedName;`"), std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(e.log().find("undefinedName"), std::string::npos);
  }
}

TEST(ChooseTarget, PicksCubinOrFallsBackToPtx) {
  std::vector<int> supported = {75, 80, 86, 89, 90, 100, 120};
  CompileTarget a100 = chooseTarget(80, supported);
  EXPECT_EQ(a100.name(), "sm_80");
  EXPECT_EQ(chooseTarget(90, supported).name(), "sm_90");
  // A device newer than NVRTC knows gets PTX of the newest older target.
  EXPECT_EQ(chooseTarget(130, supported).name(), "compute_120");
  EXPECT_EQ(chooseTarget(87, supported).name(), "compute_86");
  EXPECT_THROW(chooseTarget(70, supported), Error);
}

TEST(SummarizeCompileLog, FallsBackToTheFirstLogLine) {
  KernelSource source{"k.cu", "int x;\n", {}};
  EXPECT_EQ(summarizeCompileLog(source, "nvrtc: fatal: out of memory\nmore"),
            "k.cu: NVRTC compilation failed: nvrtc: fatal: out of memory");
}

} // namespace
} // namespace pgc::cuda
