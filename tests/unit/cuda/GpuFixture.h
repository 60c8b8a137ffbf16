// Shared set-up of the GPU tests: one context, stream and kernel cache per
// process; a skip when there is no device.
#pragma once

#include "runtime/cuda/Device.h"
#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/KernelCache.h"
#include "runtime/cuda/Module.h"

#include <gtest/gtest.h>

#include <algorithm>
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
  /// A device copy of a host tensor and the DeviceTensor launchers take.
  struct OnDevice {
    DeviceBuffer buffer;
    DeviceTensor tensor;
  };
  /// Uploads `t` (at least 8 bytes are allocated, so even an empty tensor
  /// has an address) and waits for the copy.
  static OnDevice put(const Tensor &t) {
    DeviceBuffer buffer(context(), std::max<size_t>(t.byteSize(), 8));
    if (t.byteSize())
      copyToDevice(stream(), buffer.address(), t.raw(), t.byteSize());
    stream().synchronize();
    // Taken before the buffer moves into the result.
    DeviceTensor tensor{buffer.address(), t.dtype(), t.shape()};
    return {std::move(buffer), tensor};
  }
  /// Space for a result, filled with 0xff bytes (NaN in every float dtype)
  /// so that an element a kernel skips shows.
  static OnDevice space(DType dtype, const Shape &shape) {
    OnDevice d = put(Tensor(dtype, shape));
    fillBytes(stream(), d.buffer.address(), 0xff, d.buffer.bytes());
    return d;
  }
  /// Downloads a result.
  static Tensor get(const OnDevice &d) {
    Tensor t(d.tensor.dtype, d.tensor.shape);
    if (t.byteSize())
      copyToHost(stream(), t.raw(), d.buffer.address(), t.byteSize());
    stream().synchronize();
    return t;
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
