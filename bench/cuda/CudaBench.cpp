// Benchmarks of the CUDA layer: GEMM TFLOP/s against the device's 8192^3 rate
// and NF4 GB/s against a device copy.
//
// Usage: pgc_cuda_bench [JSON_PATH]. Prints one line per measurement and
// writes a JSON summary. Without a device it says why and exits 0.
#include "runtime/cuda/Blas.h"
#include "runtime/cuda/kernels/Nf4Dequantize.h"
#include "runtime/quant/DynamicMap.h"
#include "runtime/quant/Nf4.h"
#include "runtime/support/FileUtil.h"

#include <fmt/format.h>

#include <functional>
#include <random>

using namespace pgc;
using namespace pgc::cuda;

namespace {

/// Mean milliseconds of `run` over `iterations` after `warmup` calls.
float timeMilliseconds(Context &context, Stream &stream,
                       const std::function<void()> &run, int warmup = 3,
                       int iterations = 20) {
  for (int i = 0; i < warmup; ++i)
    run();
  Event start(context), stop(context);
  start.record(stream);
  for (int i = 0; i < iterations; ++i)
    run();
  stop.record(stream);
  stop.synchronize();
  return stop.millisecondsSince(start) / iterations;
}

DeviceBuffer randomBf16(Context &context, Stream &stream, size_t count,
                        uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<uint16_t> values(count);
  for (uint16_t &v : values)
    v = f32ToBf16(uniform(rng));
  DeviceBuffer buffer(context, count * 2);
  copyToDevice(stream, buffer.address(), values.data(), count * 2);
  stream.synchronize();
  return buffer;
}

double gemmTflops(Context &context, Stream &stream, Blas &blas, int64_t m,
                  int64_t n, int64_t k) {
  DeviceBuffer a = randomBf16(context, stream, m * k, 1);
  DeviceBuffer b = randomBf16(context, stream, k * n, 2);
  DeviceBuffer c(context, m * n * 2);
  GemmArgs args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.transB = true;
  args.a = a.address();
  args.b = b.address();
  args.c = c.address();
  float ms =
      timeMilliseconds(context, stream, [&] { blas.gemm(stream, args); });
  return 2.0 * m * n * k / (ms * 1e-3) / 1e12;
}

} // namespace

int main(int argc, char **argv) try {
  std::string jsonPath = argc > 1 ? argv[1] : "";
  const DriverStatus &status = Driver::instance().status();
  if (!status.available) {
    fmt::print("bench skipped: {}\n", status.reason);
    if (!jsonPath.empty())
      writeFileAtomically(
          jsonPath, fmt::format("{{\"skipped\": \"{}\"}}\n", status.reason));
    return 0;
  }
  Context context(0);
  Stream stream(context);
  const DeviceInfo &info = context.info();
  fmt::print("device: {} sm_{} ({} SMs)\n", info.name, info.arch(),
             info.multiprocessors);
  std::string json = fmt::format("{{\"device\": \"{}\", \"arch\": {}, ",
                                 info.name, info.arch());

  Blas blas(context);
  double baseline = gemmTflops(context, stream, blas, 8192, 8192, 8192);
  fmt::print("gemm 8192x8192x8192 bf16: {:.1f} TFLOP/s (baseline)\n", baseline);
  json +=
      fmt::format("\"gemm_baseline_tflops\": {:.2f}, \"gemm\": [", baseline);
  struct Shape3 {
    int64_t m, n, k;
  };
  bool firstShape = true;
  for (Shape3 s : {Shape3{4336, 2048, 2048}, Shape3{4336, 2048, 16384},
                   Shape3{4096, 1152, 4304}}) {
    double tflops = gemmTflops(context, stream, blas, s.m, s.n, s.k);
    fmt::print("gemm {}x{}x{} bf16: {:.1f} TFLOP/s = {:.2f} of 8192^3\n", s.m,
               s.n, s.k, tflops, tflops / baseline);
    json += fmt::format("{}{{\"shape\": \"{}x{}x{}\", \"tflops\": {:.2f}, "
                        "\"fraction\": {:.3f}}}",
                        firstShape ? "" : ", ", s.m, s.n, s.k, tflops,
                        tflops / baseline);
    firstShape = false;
  }
  json += "], ";

  // NF4: Gemma's gate_proj (16384 x 2048), block 64, double quantized.
  const int64_t rows = 16384, cols = 2048, numel = rows * cols;
  Tensor weight(DType::F32, {rows, cols});
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (int64_t i = 0; i < numel; ++i)
    weight.data<float>()[i] = normal(rng);
  quant::Nf4Weight q = quant::quantizeNf4(weight, {64, true}, "bench");
  auto upload = [&](const void *data, size_t bytes) {
    DeviceBuffer buffer(context, bytes);
    copyToDevice(stream, buffer.address(), data, bytes);
    return buffer;
  };
  DeviceBuffer packed = upload(q.packed.raw(), q.packed.byteSize());
  DeviceBuffer codes = upload(q.absmaxCodes.raw(), q.absmaxCodes.byteSize());
  DeviceBuffer scales = upload(q.absmaxScales.raw(), q.absmaxScales.byteSize());
  DeviceBuffer map = upload(quant::signedDynamicMap().data(), 256 * 4);
  DeviceBuffer out(context, numel * 2);
  stream.synchronize();
  DeviceNf4Weight device;
  device.packed = packed.address();
  device.absmaxCodes = codes.address();
  device.absmaxScales = scales.address();
  device.dynamicMap = map.address();
  device.absmaxOffset = q.absmaxOffset;
  device.doubleQuant = true;
  device.numel = numel;
  device.blockSize = 64;
  KernelCache cache(KernelCache::defaultDirectory());
  Module module = loadKernelModule(context, Nvrtc::instance(), cache,
                                   nf4DequantizeSource());
  float nf4Ms = timeMilliseconds(context, stream, [&] {
    launchNf4Dequantize(module, stream, device, out.address());
  });
  double nf4Bytes =
      double(packed.bytes() + codes.bytes() + scales.bytes() + out.bytes());
  double nf4Rate = nf4Bytes / (nf4Ms * 1e-3) / 1e9;

  DeviceBuffer copySource(context, size_t(256) << 20),
      copyTarget(context, size_t(256) << 20);
  fillBytes(stream, copySource.address(), 7, copySource.bytes());
  float copyMs = timeMilliseconds(context, stream, [&] {
    copyDeviceToDevice(stream, copyTarget.address(), copySource.address(),
                       copySource.bytes());
  });
  double copyRate = 2.0 * copySource.bytes() / (copyMs * 1e-3) / 1e9;
  // A copy as large as the dequantization's output: a kernel of ~20 us pays
  // its ramp-up and drain, which the 256 MiB copy hides; this shows how much.
  size_t sameBytes = out.bytes();
  float sameMs = timeMilliseconds(context, stream, [&] {
    copyDeviceToDevice(stream, copyTarget.address(), copySource.address(),
                       sameBytes);
  });
  double sameRate = 2.0 * sameBytes / (sameMs * 1e-3) / 1e9;
  // Writing the output alone (a memset of its size): the dequantization
  // writes 4 bytes per byte it reads, so this is its floor in time.
  float writeMs = timeMilliseconds(context, stream, [&] {
    fillBytes(stream, copyTarget.address(), 0, sameBytes);
  });
  double writeRate = sameBytes / (writeMs * 1e-3) / 1e9;
  fmt::print("device copy 256 MiB: {:.0f} GB/s (read+write, baseline)\n",
             copyRate);
  fmt::print("device copy {} MiB (the nf4 output's size): {:.0f} GB/s = {:.2f} "
             "of the 256 MiB copy\n",
             sameBytes >> 20, sameRate, sameRate / copyRate);
  fmt::print("device memset {} MiB (the nf4 output's writes alone): {:.3f} ms, "
             "{:.0f} GB/s written\n",
             sameBytes >> 20, writeMs, writeRate);
  fmt::print("nf4 dequantize {}x{} -> bf16: {:.3f} ms = {:.2f} of the memset's "
             "time\n",
             rows, cols, nf4Ms, writeMs / nf4Ms);
  fmt::print("nf4 dequantize {}x{} -> bf16: {:.0f} GB/s = {:.2f} of copy "
             "(target >= 0.8), {:.2f} of the same-size copy\n",
             rows, cols, nf4Rate, nf4Rate / copyRate, nf4Rate / sameRate);
  json += fmt::format(
      "\"copy_gbps\": {:.1f}, \"copy_same_size_gbps\": "
      "{:.1f}, \"nf4_gbps\": {:.1f}, \"nf4_fraction\": {:.3f}, "
      "\"nf4_fraction_of_same_size_copy\": {:.3f}, \"nf4_ms\": {:.4f}, "
      "\"output_memset_ms\": {:.4f}}}\n",
      copyRate, sameRate, nf4Rate, nf4Rate / copyRate, nf4Rate / sameRate,
      nf4Ms, writeMs);
  if (!jsonPath.empty())
    writeFileAtomically(jsonPath, json);
  return 0;
} catch (const std::exception &e) {
  fmt::print(stderr, "pgc_cuda_bench: error: {}\n", e.what());
  return 1;
}
