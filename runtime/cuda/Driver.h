// The CUDA driver API, loaded with dlopen("libcuda.so.1") and resolved through
// cuGetProcAddress.
#pragma once

#include "runtime/cuda/CudaApi.h"
#include "runtime/cuda/DynamicLibrary.h"

#include <string>

namespace pgc::cuda {

/// The oldest driver API we ask for: every entry point is requested at its
/// CUDA 12.0 ABI, which every 12.x and 13.x driver provides.
constexpr int kRequiredDriverVersion = 12000;

/// Entry points of the driver, each at the ABI of kRequiredDriverVersion.
struct DriverFunctions {
  using CUresult = api::CUresult;
  using CUdeviceptr = api::CUdeviceptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(api::CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, api::CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, api::CUdevice) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t *, api::CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(api::CUcontext *,
                                       api::CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(api::CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(api::CUcontext) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemGetInfo)(size_t *, size_t *) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemAllocHost)(void **, size_t) = nullptr;
  CUresult (*cuMemFreeHost)(void *) = nullptr;
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t,
                                api::CUstream) = nullptr;
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t,
                                api::CUstream) = nullptr;
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t,
                                api::CUstream) = nullptr;
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t,
                              api::CUstream) = nullptr;
  CUresult (*cuStreamCreate)(api::CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamDestroy)(api::CUstream) = nullptr;
  CUresult (*cuStreamSynchronize)(api::CUstream) = nullptr;
  CUresult (*cuEventCreate)(api::CUevent *, unsigned) = nullptr;
  CUresult (*cuEventDestroy)(api::CUevent) = nullptr;
  CUresult (*cuEventRecord)(api::CUevent, api::CUstream) = nullptr;
  CUresult (*cuEventSynchronize)(api::CUevent) = nullptr;
  CUresult (*cuEventElapsedTime)(float *, api::CUevent, api::CUevent) = nullptr;
  CUresult (*cuModuleLoadData)(api::CUmodule *, const void *) = nullptr;
  CUresult (*cuModuleUnload)(api::CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(api::CUfunction *, api::CUmodule,
                                  const char *) = nullptr;
  CUresult (*cuLaunchKernel)(api::CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned,
                             api::CUstream, void **, void **) = nullptr;
  CUresult (*cuStreamBeginCapture)(api::CUstream, int) = nullptr;
  CUresult (*cuStreamEndCapture)(api::CUstream, api::CUgraph *) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(api::CUgraphExec *, api::CUgraph,
                                          unsigned long long) = nullptr;
  CUresult (*cuGraphLaunch)(api::CUgraphExec, api::CUstream) = nullptr;
  CUresult (*cuGraphExecDestroy)(api::CUgraphExec) = nullptr;
  CUresult (*cuGraphDestroy)(api::CUgraph) = nullptr;
};

/// Whether a usable CUDA device is there, and if not, why not in one line.
struct DriverStatus {
  bool available = false;
  std::string reason;    // "no CUDA device: ..." when !available
  int driverVersion = 0; // e.g. 13000; 0 when unknown
  int deviceCount = 0;
  std::string libraryPath;
};

/// The loaded driver. Loading never throws and never aborts the process: a
/// missing library, a stub driver, an old driver or no device all end in
/// status().available == false with a reason.
class Driver {
public:
  /// Loads from explicit candidates (tests use this to try a stub driver).
  explicit Driver(const std::vector<std::string> &libraryCandidates);
  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

  /// The process-wide driver: $PGC_CUDA_DRIVER if set, else libcuda.so.1.
  static Driver &instance();

  const DriverStatus &status() const { return status_; }
  bool available() const { return status_.available; }
  /// The entry points; throws pgc::Error with the status reason when the
  /// driver is not available.
  const DriverFunctions &api() const;
  /// Throws pgc::Error "<what>: CUDA_ERROR_X (description)" unless success.
  void check(api::CUresult result, const char *what) const;
  std::string describe(api::CUresult result) const;

private:
  void load(const std::vector<std::string> &libraryCandidates);
  DynamicLibrary library_;
  DriverFunctions functions_;
  DriverStatus status_;
};

} // namespace pgc::cuda
