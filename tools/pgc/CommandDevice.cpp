// `pgc device`: what the CUDA layer sees — driver, GPU, NVRTC, cuBLASLt, kernel
// cache — and why anything is missing.
#include "tools/pgc/Commands.h"

#include "runtime/cuda/Blas.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/KernelCache.h"
#include "runtime/cuda/Nvrtc.h"

#include <fmt/format.h>

namespace pgc::cli {
namespace {

void printDevices(cuda::Driver &driver) {
  const cuda::DriverStatus &status = driver.status();
  if (!status.available) {
    fmt::print("driver:   {}\n", status.reason);
    return;
  }
  fmt::print("driver:   {} (CUDA {}.{}), {} device(s)\n", status.libraryPath,
             status.driverVersion / 1000, status.driverVersion % 1000 / 10,
             status.deviceCount);
  for (int ordinal = 0; ordinal < status.deviceCount; ++ordinal) {
    cuda::DeviceInfo info = cuda::queryDevice(driver, ordinal);
    fmt::print("device {}: {}, sm_{}, {} SMs, {:.1f} GiB", ordinal, info.name,
               info.arch(), info.multiprocessors,
               info.totalMemoryBytes / double(1 << 30));
    if (info.peakBandwidthBytesPerSecond > 0)
      fmt::print(", {:.0f} GB/s peak DRAM",
                 info.peakBandwidthBytesPerSecond / 1e9);
    fmt::print("\n");
  }
}

CommandAction registerDevice(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "device", "Show the CUDA driver, GPUs, NVRTC and cuBLASLt that pgc "
                "finds (works without a GPU)");
  return [sub]() -> int {
    (void)sub;
    cuda::Driver &driver = cuda::Driver::instance();
    printDevices(driver);
    cuda::Nvrtc &nvrtc = cuda::Nvrtc::instance();
    if (nvrtc.available()) {
      std::string archs;
      for (int arch : nvrtc.supportedArchs())
        archs += fmt::format(" sm_{}", arch);
      fmt::print("nvrtc:    {} (version {}), targets{}\n", nvrtc.libraryPath(),
                 nvrtc.version(), archs);
      if (driver.available()) {
        cuda::CompileTarget target = cuda::chooseTarget(
            cuda::queryDevice(driver, 0).arch(), nvrtc.supportedArchs());
        fmt::print("target:   {}{}\n", target.name(),
                   target.ptx ? " (PTX, finished by the driver)" : "");
      }
    } else {
      fmt::print("nvrtc:    {}\n", nvrtc.unavailableReason());
    }
    fmt::print("cublasLt: {}\n", cuda::describeBlasLibrary());
    fmt::print("cache:    {}\n", cuda::KernelCache::defaultDirectory());
    return 0;
  };
}

CommandRegistration registration(80, registerDevice);

} // namespace
} // namespace pgc::cli
