// GPU checks of the device layer: query, memory, arena, pinned copies, events.
#include "GpuFixture.h"

#include "runtime/cuda/Arena.h"

#include <numeric>

namespace pgc::cuda {
namespace {

using GpuDevice = GpuTest;

TEST_F(GpuDevice, QueryIsPlausible) {
  const DeviceInfo &info = context().info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.arch(), 75);
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_GT(info.totalMemoryBytes, size_t(1) << 30);
  std::printf("device: %s sm_%d, %d SMs, %.1f GiB\n", info.name.c_str(),
              info.arch(), info.multiprocessors,
              info.totalMemoryBytes / double(1 << 30));
}

TEST_F(GpuDevice, PinnedCopiesThroughTheArenaRoundTrip) {
  DeviceArena arena(context(), 64 << 20);
  const size_t count = 3 << 20;
  PinnedBuffer host(context(), count * 4);
  auto *values = static_cast<uint32_t *>(host.data());
  std::iota(values, values + count, 12345u);
  api::CUdeviceptr first = arena.allocate(count * 4, "first");
  api::CUdeviceptr second = arena.allocate(count * 4 + 3, "second");
  EXPECT_EQ(first % 256, 0u);
  EXPECT_EQ(second % 256, 0u);
  copyToDevice(stream(), first, values, count * 4);
  fillBytes(stream(), second, 0xAB, count * 4);
  copyDeviceToDevice(stream(), second, first, count * 4);
  std::vector<uint32_t> back(count, 0);
  copyToHost(stream(), back.data(), second, count * 4);
  stream().synchronize();
  for (size_t i = 0; i < count; ++i)
    ASSERT_EQ(back[i], values[i]) << "i = " << i;
  arena.release(first);
  EXPECT_THROW(arena.allocate(size_t(128) << 20, "too big"), Error);
}

TEST_F(GpuDevice, EventsMeasureACopy) {
  DeviceBuffer a(context(), 256 << 20), b(context(), 256 << 20);
  fillBytes(stream(), a.address(), 1, a.bytes());
  Event start(context()), stop(context());
  start.record(stream());
  copyDeviceToDevice(stream(), b.address(), a.address(), a.bytes());
  stop.record(stream());
  stop.synchronize();
  float ms = stop.millisecondsSince(start);
  EXPECT_GT(ms, 0.0f);
  std::printf("256 MiB device copy: %.3f ms (%.0f GB/s read+write)\n", ms,
              2.0 * a.bytes() / (ms * 1e-3) / 1e9);
}

} // namespace
} // namespace pgc::cuda
