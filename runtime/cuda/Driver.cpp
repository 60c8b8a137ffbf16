// Loads libcuda at run time and classifies every way it can be missing as "no
// CUDA device".
#include "runtime/cuda/Driver.h"

#include "runtime/support/Error.h"

#include <cstdlib>
#include <fmt/format.h>

namespace pgc::cuda {
namespace {

using GetProcAddressV2 = api::CUresult (*)(const char *, void **, int,
                                           unsigned long long, int *);
using GetProcAddressV1 = api::CUresult (*)(const char *, void **, int,
                                           unsigned long long);

/// Why a failing cuInit/cuDeviceGetCount means "no GPU" rather than a bug.
std::string noDeviceReason(api::CUresult result) {
  switch (result) {
  case api::CUDA_ERROR_STUB_LIBRARY:
    return "the loaded libcuda is the toolkit's stub, not a driver";
  case api::CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER:
    return "the installed driver is too old";
  case api::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
    return "the driver library does not match the loaded kernel module";
  case api::CUDA_ERROR_DEVICE_UNAVAILABLE:
    return "the device is busy or unavailable";
  case api::CUDA_ERROR_NO_DEVICE:
    return "the driver reports no CUDA-capable device";
  default:
    return fmt::format("the driver failed with CUresult {}", result);
  }
}

} // namespace

Driver::Driver(const std::vector<std::string> &libraryCandidates) {
  load(libraryCandidates);
}

Driver &Driver::instance() {
  static Driver driver([] {
    const char *override = std::getenv("PGC_CUDA_DRIVER");
    if (override && *override)
      return std::vector<std::string>{override};
    return std::vector<std::string>{"libcuda.so.1"};
  }());
  return driver;
}

void Driver::load(const std::vector<std::string> &libraryCandidates) {
  library_ = DynamicLibrary::openFirst(libraryCandidates);
  if (!library_.loaded()) {
    status_.reason = "no CUDA device: cannot load the driver library (" +
                     library_.loadError() + ")";
    return;
  }
  status_.libraryPath = library_.path();

  auto v2 =
      reinterpret_cast<GetProcAddressV2>(library_.find("cuGetProcAddress_v2"));
  auto v1 =
      reinterpret_cast<GetProcAddressV1>(library_.find("cuGetProcAddress"));
  if (!v2 && !v1) {
    status_.reason = "no CUDA device: " + library_.path() +
                     " has no cuGetProcAddress (driver older than CUDA 11.3)";
    return;
  }
  std::string missing;
  api::CUresult firstFailure = api::CUDA_SUCCESS;
  auto resolve = [&](const char *name, auto &slot) {
    void *address = nullptr;
    api::CUresult result = v2 ? v2(name, &address, kRequiredDriverVersion,
                                   api::CU_GET_PROC_ADDRESS_DEFAULT, nullptr)
                              : v1(name, &address, kRequiredDriverVersion,
                                   api::CU_GET_PROC_ADDRESS_DEFAULT);
    if (result != api::CUDA_SUCCESS || !address) {
      if (firstFailure == api::CUDA_SUCCESS)
        firstFailure = result;
      if (!missing.empty())
        missing += ", ";
      missing += name;
      return;
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
  DriverFunctions &f = functions_;
  resolve("cuGetErrorName", f.cuGetErrorName);
  resolve("cuGetErrorString", f.cuGetErrorString);
  resolve("cuInit", f.cuInit);
  resolve("cuDriverGetVersion", f.cuDriverGetVersion);
  if (firstFailure != api::CUDA_SUCCESS &&
      firstFailure != api::CUDA_ERROR_NOT_FOUND) {
    // A stub library answers every lookup with CUDA_ERROR_STUB_LIBRARY.
    status_.reason = "no CUDA device: " + noDeviceReason(firstFailure);
    return;
  }
  if (f.cuInit && f.cuDriverGetVersion) {
    // Asking for the version first separates "old driver" from "no device".
    int version = 0;
    if (f.cuDriverGetVersion(&version) == api::CUDA_SUCCESS)
      status_.driverVersion = version;
    api::CUresult init = f.cuInit(0);
    if (init != api::CUDA_SUCCESS) {
      status_.reason = "no CUDA device: " + noDeviceReason(init);
      return;
    }
    if (status_.driverVersion < kRequiredDriverVersion) {
      status_.reason = fmt::format(
          "no CUDA device: the driver supports CUDA {}.{}, pgc needs {}.{}",
          status_.driverVersion / 1000, status_.driverVersion % 1000 / 10,
          kRequiredDriverVersion / 1000, kRequiredDriverVersion % 1000 / 10);
      return;
    }
  }
  resolve("cuDeviceGetCount", f.cuDeviceGetCount);
  resolve("cuDeviceGet", f.cuDeviceGet);
  resolve("cuDeviceGetName", f.cuDeviceGetName);
  resolve("cuDeviceGetAttribute", f.cuDeviceGetAttribute);
  resolve("cuDeviceTotalMem", f.cuDeviceTotalMem);
  resolve("cuDevicePrimaryCtxRetain", f.cuDevicePrimaryCtxRetain);
  resolve("cuDevicePrimaryCtxRelease", f.cuDevicePrimaryCtxRelease);
  resolve("cuCtxSetCurrent", f.cuCtxSetCurrent);
  resolve("cuCtxSynchronize", f.cuCtxSynchronize);
  resolve("cuMemGetInfo", f.cuMemGetInfo);
  resolve("cuMemAlloc", f.cuMemAlloc);
  resolve("cuMemFree", f.cuMemFree);
  resolve("cuMemAllocHost", f.cuMemAllocHost);
  resolve("cuMemFreeHost", f.cuMemFreeHost);
  resolve("cuMemcpyHtoDAsync", f.cuMemcpyHtoDAsync);
  resolve("cuMemcpyDtoHAsync", f.cuMemcpyDtoHAsync);
  resolve("cuMemcpyDtoDAsync", f.cuMemcpyDtoDAsync);
  resolve("cuMemsetD8Async", f.cuMemsetD8Async);
  resolve("cuStreamCreate", f.cuStreamCreate);
  resolve("cuStreamDestroy", f.cuStreamDestroy);
  resolve("cuStreamSynchronize", f.cuStreamSynchronize);
  resolve("cuEventCreate", f.cuEventCreate);
  resolve("cuEventDestroy", f.cuEventDestroy);
  resolve("cuEventRecord", f.cuEventRecord);
  resolve("cuEventSynchronize", f.cuEventSynchronize);
  resolve("cuEventElapsedTime", f.cuEventElapsedTime);
  resolve("cuModuleLoadData", f.cuModuleLoadData);
  resolve("cuModuleUnload", f.cuModuleUnload);
  resolve("cuModuleGetFunction", f.cuModuleGetFunction);
  resolve("cuLaunchKernel", f.cuLaunchKernel);
  resolve("cuStreamBeginCapture", f.cuStreamBeginCapture);
  resolve("cuStreamEndCapture", f.cuStreamEndCapture);
  resolve("cuGraphInstantiateWithFlags", f.cuGraphInstantiateWithFlags);
  resolve("cuGraphLaunch", f.cuGraphLaunch);
  resolve("cuGraphExecDestroy", f.cuGraphExecDestroy);
  resolve("cuGraphDestroy", f.cuGraphDestroy);
  if (!missing.empty()) {
    status_.reason = "no CUDA device: the driver lacks " + missing;
    return;
  }
  int count = 0;
  api::CUresult result = f.cuDeviceGetCount(&count);
  if (result != api::CUDA_SUCCESS || count == 0) {
    status_.reason =
        "no CUDA device: " + noDeviceReason(result == api::CUDA_SUCCESS
                                                ? api::CUDA_ERROR_NO_DEVICE
                                                : result);
    return;
  }
  status_.deviceCount = count;
  status_.available = true;
}

const DriverFunctions &Driver::api() const {
  if (!status_.available)
    fail("{}", status_.reason);
  return functions_;
}

std::string Driver::describe(api::CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (functions_.cuGetErrorName)
    functions_.cuGetErrorName(result, &name);
  if (functions_.cuGetErrorString)
    functions_.cuGetErrorString(result, &text);
  return fmt::format("{} ({})",
                     name ? name : fmt::format("CUresult {}", result),
                     text ? text : "no description");
}

void Driver::check(api::CUresult result, const char *what) const {
  if (result != api::CUDA_SUCCESS)
    fail("{}: {}", what, describe(result));
}

} // namespace pgc::cuda
