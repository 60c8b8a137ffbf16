// Every generated kernel of the catalogue compiles with NVRTC to CUBIN for
// sm_80 (A100) and sm_90 (H100/H200); no GPU needed.
#include "KernelCases.h"

#include "runtime/cuda/Nvrtc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace pgc::codegen::testing {
namespace {

using cuda::CompileTarget;
using cuda::KernelSource;
using cuda::Nvrtc;

#define REQUIRE_NVRTC()                                                        \
  if (!Nvrtc::instance().available())                                          \
  GTEST_SKIP() << "NVRTC not available: "                                      \
               << Nvrtc::instance().unavailableReason()

// A CUBIN is an ELF image for the NVIDIA CUDA machine (EM_CUDA = 190).
bool isCubin(const std::string &image) {
  return image.size() > 64 &&
         image.compare(0, 4,
                       "\x7f"
                       "ELF") == 0 &&
         static_cast<uint8_t>(image[18]) == 190;
}

TEST(CudaElementwiseNvrtc, EveryKernelCompilesForA100AndH100) {
  REQUIRE_NVRTC();
  std::vector<KernelCase> cases = allKernelCases(16);
  struct Job {
    const KernelCase *kernel;
    int arch;
  };
  std::vector<Job> jobs;
  for (const KernelCase &c : cases)
    for (int arch : {80, 90})
      jobs.push_back({&c, arch});
  // NVRTC compiles independent programs concurrently; one thread per core
  // keeps the test to a fraction of the serial time.
  std::atomic<size_t> next{0};
  std::mutex failuresMutex;
  std::vector<std::string> failures;
  auto start = std::chrono::steady_clock::now();
  auto work = [&] {
    for (size_t j = next++; j < jobs.size(); j = next++) {
      const Job &job = jobs[j];
      KernelSource source{
          job.kernel->name + ".cu",
          emitElementwiseKernel(job.kernel->plan, job.kernel->group),
          {}};
      std::string problem;
      try {
        cuda::CompiledKernel compiled =
            Nvrtc::instance().compile(source, CompileTarget{job.arch, false});
        if (!isCubin(compiled.image))
          problem = "not a CUBIN";
        else if (!compiled.log.empty() &&
                 compiled.log.find("warning") != std::string::npos)
          problem = "warnings: " + compiled.log;
      } catch (const Error &e) {
        problem = e.what();
      }
      if (!problem.empty()) {
        std::lock_guard<std::mutex> lock(failuresMutex);
        failures.push_back(
            fmt::format("{} sm_{}: {}", job.kernel->name, job.arch, problem));
      }
    }
  };
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back(work);
  for (std::thread &t : pool)
    t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  for (const std::string &failure : failures)
    ADD_FAILURE() << failure;
  std::printf("compiled %zu kernels for sm_80 and sm_90 (%zu NVRTC runs) in "
              "%.1f s on %u threads\n",
              cases.size(), jobs.size(), seconds, threads);
}

TEST(CudaElementwiseNvrtc, FmadDoesNotChangeTheCode) {
  // Every float operation of the kernels is an _rn intrinsic, which NVCC
  // never fuses: the PTX is the same with contraction on or off.
  REQUIRE_NVRTC();
  for (const KernelCase &c : allKernelCases(16)) {
    if (c.name != "chain_adamw_f32" && c.name != "gelu_tanh_grad_f32_f32_f32")
      continue;
    std::string code = emitElementwiseKernel(c.plan, c.group);
    KernelSource fused{c.name + ".cu", code, {"--fmad=true"}};
    KernelSource separate{c.name + ".cu", code, {"--fmad=false"}};
    std::string a = Nvrtc::instance().compile(fused, {90, true}).image;
    std::string b = Nvrtc::instance().compile(separate, {90, true}).image;
    EXPECT_EQ(a.find("fma.rn.f32"), std::string::npos) << c.name;
    EXPECT_EQ(a, b) << c.name;
  }
}

} // namespace
} // namespace pgc::codegen::testing
