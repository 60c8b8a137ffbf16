// A CUDA device and what lives on it: the primary context, streams, events,
// device and pinned memory, copies.
#pragma once

#include "runtime/cuda/Driver.h"

#include <cstddef>
#include <string>

namespace pgc::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeMajor = 0;
  int computeMinor = 0;
  int multiprocessors = 0;
  size_t totalMemoryBytes = 0;
  /// Peak DRAM bandwidth from clock and bus width (bytes/s), 0 if unknown.
  double peakBandwidthBytesPerSecond = 0;
  int arch() const { return computeMajor * 10 + computeMinor; }
};

/// The device's primary context, made current on the constructing thread.
/// Every other object in this folder assumes a current context.
class Context {
public:
  explicit Context(int ordinal = 0, Driver &driver = Driver::instance());
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;
  ~Context();

  Driver &driver() const { return driver_; }
  const DriverFunctions &api() const { return driver_.api(); }
  const DeviceInfo &info() const { return info_; }
  /// Makes this context current on the calling thread.
  void makeCurrent() const;
  void synchronize() const;

private:
  Driver &driver_;
  api::CUdevice device_ = 0;
  api::CUcontext context_ = nullptr;
  DeviceInfo info_;
};

/// Queries a device without keeping a context.
DeviceInfo queryDevice(Driver &driver, int ordinal);

class Stream {
public:
  explicit Stream(const Context &context);
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  ~Stream();
  api::CUstream handle() const { return stream_; }
  const Context &context() const { return context_; }
  void synchronize() const;

private:
  const Context &context_;
  api::CUstream stream_ = nullptr;
};

class Event {
public:
  explicit Event(const Context &context);
  Event(const Event &) = delete;
  Event &operator=(const Event &) = delete;
  ~Event();
  void record(const Stream &stream);
  void synchronize() const;
  /// Milliseconds between `start` (recorded earlier) and this event.
  float millisecondsSince(const Event &start) const;

private:
  const Context &context_;
  api::CUevent event_ = nullptr;
};

/// Device memory from cuMemAlloc (aligned to at least 256 bytes).
class DeviceBuffer {
public:
  DeviceBuffer(const Context &context, size_t bytes);
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();
  api::CUdeviceptr address() const { return address_; }
  size_t bytes() const { return bytes_; }

private:
  const Context *context_;
  api::CUdeviceptr address_ = 0;
  size_t bytes_ = 0;
};

/// Page-locked host memory, so copies run asynchronously at full speed.
class PinnedBuffer {
public:
  PinnedBuffer(const Context &context, size_t bytes);
  PinnedBuffer(const PinnedBuffer &) = delete;
  PinnedBuffer &operator=(const PinnedBuffer &) = delete;
  ~PinnedBuffer();
  void *data() const { return data_; }
  size_t bytes() const { return bytes_; }

private:
  const Context &context_;
  void *data_ = nullptr;
  size_t bytes_ = 0;
};

/// Asynchronous copies and fills on `stream`.
void copyToDevice(const Stream &stream, api::CUdeviceptr destination,
                  const void *source, size_t bytes);
void copyToHost(const Stream &stream, void *destination,
                api::CUdeviceptr source, size_t bytes);
void copyDeviceToDevice(const Stream &stream, api::CUdeviceptr destination,
                        api::CUdeviceptr source, size_t bytes);
void fillBytes(const Stream &stream, api::CUdeviceptr destination,
               unsigned char value, size_t bytes);

} // namespace pgc::cuda
