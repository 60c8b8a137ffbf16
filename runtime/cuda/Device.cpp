// Device query, primary context, streams, events and memory through the
// dlopen'ed driver.
#include "runtime/cuda/Device.h"

#include "runtime/support/Error.h"

namespace pgc::cuda {

DeviceInfo queryDevice(Driver &driver, int ordinal) {
  const DriverFunctions &f = driver.api();
  if (ordinal < 0 || ordinal >= driver.status().deviceCount)
    fail("CUDA device {}: out of range, {} device(s) present", ordinal,
         driver.status().deviceCount);
  api::CUdevice device = 0;
  driver.check(f.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  DeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {};
  driver.check(f.cuDeviceGetName(name, sizeof(name) - 1, device),
               "cuDeviceGetName");
  info.name = name;
  auto attribute = [&](int which) {
    int value = 0;
    driver.check(f.cuDeviceGetAttribute(&value, which, device),
                 "cuDeviceGetAttribute");
    return value;
  };
  info.computeMajor =
      attribute(api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  info.computeMinor =
      attribute(api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  info.multiprocessors =
      attribute(api::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  // Memory clock (kHz) and bus width (bits) give the DRAM peak: 2 transfers
  // per clock. Newer drivers may report 0 for the clock; then it is unknown.
  int clockKHz = attribute(api::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
  int busBits = attribute(api::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
  info.peakBandwidthBytesPerSecond = 2.0 * clockKHz * 1e3 * busBits / 8.0;
  driver.check(f.cuDeviceTotalMem(&info.totalMemoryBytes, device),
               "cuDeviceTotalMem");
  return info;
}

Context::Context(int ordinal, Driver &driver) : driver_(driver) {
  info_ = queryDevice(driver, ordinal);
  const DriverFunctions &f = driver.api();
  driver.check(f.cuDeviceGet(&device_, ordinal), "cuDeviceGet");
  driver.check(f.cuDevicePrimaryCtxRetain(&context_, device_),
               "cuDevicePrimaryCtxRetain");
  makeCurrent();
}

Context::~Context() {
  if (context_)
    driver_.api().cuDevicePrimaryCtxRelease(device_);
}

void Context::makeCurrent() const {
  driver_.check(api().cuCtxSetCurrent(context_), "cuCtxSetCurrent");
}

void Context::synchronize() const {
  driver_.check(api().cuCtxSynchronize(), "cuCtxSynchronize");
}

Stream::Stream(const Context &context) : context_(context) {
  context.driver().check(
      context.api().cuStreamCreate(&stream_, api::CU_STREAM_NON_BLOCKING),
      "cuStreamCreate");
}

Stream::~Stream() {
  if (stream_)
    context_.api().cuStreamDestroy(stream_);
}

void Stream::synchronize() const {
  context_.driver().check(context_.api().cuStreamSynchronize(stream_),
                          "cuStreamSynchronize");
}

Event::Event(const Context &context) : context_(context) {
  context.driver().check(
      context.api().cuEventCreate(&event_, api::CU_EVENT_DEFAULT),
      "cuEventCreate");
}

Event::~Event() {
  if (event_)
    context_.api().cuEventDestroy(event_);
}

void Event::record(const Stream &stream) {
  context_.driver().check(context_.api().cuEventRecord(event_, stream.handle()),
                          "cuEventRecord");
}

void Event::synchronize() const {
  context_.driver().check(context_.api().cuEventSynchronize(event_),
                          "cuEventSynchronize");
}

float Event::millisecondsSince(const Event &start) const {
  float milliseconds = 0;
  context_.driver().check(
      context_.api().cuEventElapsedTime(&milliseconds, start.event_, event_),
      "cuEventElapsedTime");
  return milliseconds;
}

DeviceBuffer::DeviceBuffer(const Context &context, size_t bytes)
    : context_(&context), bytes_(bytes) {
  context.driver().check(context.api().cuMemAlloc(&address_, bytes ? bytes : 1),
                         "cuMemAlloc");
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : context_(other.context_), address_(other.address_), bytes_(other.bytes_) {
  other.address_ = 0;
}

DeviceBuffer::~DeviceBuffer() {
  if (address_)
    context_->api().cuMemFree(address_);
}

PinnedBuffer::PinnedBuffer(const Context &context, size_t bytes)
    : context_(context), bytes_(bytes) {
  context.driver().check(
      context.api().cuMemAllocHost(&data_, bytes ? bytes : 1),
      "cuMemAllocHost");
}

PinnedBuffer::~PinnedBuffer() {
  if (data_)
    context_.api().cuMemFreeHost(data_);
}

void copyToDevice(const Stream &stream, api::CUdeviceptr destination,
                  const void *source, size_t bytes) {
  const Context &context = stream.context();
  context.driver().check(context.api().cuMemcpyHtoDAsync(
                             destination, source, bytes, stream.handle()),
                         "cuMemcpyHtoDAsync");
}

void copyToHost(const Stream &stream, void *destination,
                api::CUdeviceptr source, size_t bytes) {
  const Context &context = stream.context();
  context.driver().check(context.api().cuMemcpyDtoHAsync(
                             destination, source, bytes, stream.handle()),
                         "cuMemcpyDtoHAsync");
}

void copyDeviceToDevice(const Stream &stream, api::CUdeviceptr destination,
                        api::CUdeviceptr source, size_t bytes) {
  const Context &context = stream.context();
  context.driver().check(context.api().cuMemcpyDtoDAsync(
                             destination, source, bytes, stream.handle()),
                         "cuMemcpyDtoDAsync");
}

void fillBytes(const Stream &stream, api::CUdeviceptr destination,
               unsigned char value, size_t bytes) {
  const Context &context = stream.context();
  context.driver().check(
      context.api().cuMemsetD8Async(destination, value, bytes, stream.handle()),
      "cuMemsetD8Async");
}

} // namespace pgc::cuda
