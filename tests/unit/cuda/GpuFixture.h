// Shared set-up of the GPU tests: one context, stream and kernel cache per
// process; a skip when there is no device.
#pragma once

#include "runtime/cuda/Device.h"
#include "runtime/cuda/KernelCache.h"
#include "runtime/cuda/Module.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace pgc::cuda {

class GpuTest : public ::testing::Test {
public:
  void SetUp() override {
    const DriverStatus &status = Driver::instance().status();
    if (!status.available)
      GTEST_SKIP() << status.reason;
    if (!Nvrtc::instance().available())
      GTEST_SKIP() << "no NVRTC: " << Nvrtc::instance().unavailableReason();
  }
  static Context &context() {
    static Context instance(0);
    instance.makeCurrent();
    return instance;
  }
  static Stream &stream() {
    static Stream instance(context());
    return instance;
  }
  static KernelCache &cache() {
    static KernelCache instance(KernelCache::defaultDirectory());
    return instance;
  }
  static Module load(const KernelSource &source) {
    return loadKernelModule(context(), Nvrtc::instance(), cache(), source);
  }
  template <typename T>
  static DeviceBuffer upload(const std::vector<T> &values) {
    DeviceBuffer buffer(context(), values.size() * sizeof(T));
    copyToDevice(stream(), buffer.address(), values.data(),
                 values.size() * sizeof(T));
    stream().synchronize();
    return buffer;
  }
  template <typename T>
  static std::vector<T> download(const DeviceBuffer &buffer, size_t count) {
    std::vector<T> values(count);
    copyToHost(stream(), values.data(), buffer.address(), count * sizeof(T));
    stream().synchronize();
    return values;
  }
};

} // namespace pgc::cuda
