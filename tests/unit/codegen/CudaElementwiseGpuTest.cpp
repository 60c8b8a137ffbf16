// Every generated kernel of the catalogue on the GPU, over a million random
// elements, against the CPU reference executor running the same steps one by
// one: bit for bit, or within the case's ulps for exp, log and tanh.
#include "KernelCases.h"

#include "runtime/exec/Session.h"
#include "tests/unit/cuda/GpuFixture.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace pgc::codegen::testing {
namespace {

using cuda::DeviceBuffer;
using cuda::KernelSource;

// Odd, and more than the threads of the grid below, so that the grid-stride
// loop runs several rounds and the last one is ragged.
constexpr int64_t kCount = 1'000'003;

class GeneratedKernels : public cuda::GpuTest {};

/// A float element's bits as an integer whose neighbours are the float's
/// neighbours: the difference of two is their distance in ulps.
int64_t orderedBits(const Tensor &t, int64_t i) {
  auto order = [](uint64_t bits, int width) -> int64_t {
    uint64_t sign = uint64_t(1) << (width - 1);
    int64_t magnitude = static_cast<int64_t>(bits & (sign - 1));
    return (bits & sign) ? -magnitude : magnitude;
  };
  switch (t.dtype()) {
  case DType::BF16:
  case DType::F16:
    return order(t.data<uint16_t>()[i], 16);
  case DType::F32:
    return order(t.data<uint32_t>()[i], 32);
  default:
    return order(t.data<uint64_t>()[i], 64);
  }
}

std::string bitsOf(const Tensor &t, int64_t i) {
  size_t width = dtypeSize(t.dtype());
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const char *>(t.raw()) + i * width, width);
  return fmt::format("{} (0x{:0{}x})", t.at(i), bits, 2 * width);
}

/// The magnitude an element's rounding errors scale with: the largest finite
/// |input| at that element (a one-element input counts everywhere), at least
/// 1. f64 gelu's error is a few ulps of 1 + tanh(u) times dy (and x), not of
/// the result, which cancels; an absolute bound must grow with the inputs (a
/// first GPU run found dy = 7.7e17 differing by 2.4e3, 3e-15 relative).
std::vector<double> inputScales(const std::vector<Tensor> &inputs,
                                int64_t count) {
  std::vector<double> scales(count, 1.0);
  for (const Tensor &input : inputs) {
    if (!isFloat(input.dtype()))
      continue;
    bool splat = input.numel() == 1;
    for (int64_t i = 0; i < count; ++i) {
      double v = std::fabs(input.at(splat ? 0 : i));
      if (std::isfinite(v))
        scales[i] = std::max(scales[i], v);
    }
  }
  return scales;
}

/// Empty when `actual` matches `expected` under the case's tolerance, else a
/// line about the mismatches and the first of them. `scales` (per element)
/// multiplies the case's absolute bound.
std::string compareOutputs(const KernelCase &c, const std::string &name,
                           const Tensor &expected, const Tensor &actual,
                           const std::vector<double> &scales,
                           int64_t &worstUlps) {
  int64_t mismatches = 0, first = -1;
  size_t width = dtypeSize(expected.dtype());
  const char *e = static_cast<const char *>(expected.raw());
  const char *a = static_cast<const char *>(actual.raw());
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (std::memcmp(e + i * width, a + i * width, width) == 0)
      continue;
    bool ok = false;
    if (isFloat(expected.dtype())) {
      double x = expected.at(i), y = actual.at(i);
      // NaN payloads are not part of the contract: a NaN is a NaN.
      if (std::isnan(x) && std::isnan(y)) {
        ok = true;
      } else if (!std::isnan(x) && !std::isnan(y)) {
        int64_t ulps =
            std::abs(orderedBits(expected, i) - orderedBits(actual, i));
        ok = ulps <= c.ulps || (std::isfinite(x) && std::isfinite(y) &&
                                std::fabs(x - y) <= c.absolute * scales[i]);
        if (ok)
          worstUlps = std::max(worstUlps, ulps);
      }
    }
    if (!ok && mismatches++ == 0)
      first = i;
  }
  if (mismatches == 0)
    return "";
  return fmt::format("{} {}: {} of {} elements differ; first at {}: CPU {}, "
                     "GPU {}",
                     c.name, name, mismatches, expected.numel(), first,
                     bitsOf(expected, first), bitsOf(actual, first));
}

/// Runs `c` on the CPU executor and on the GPU; returns the problems found.
/// With `inPlace`, the first output shares the first input's memory (the
/// kernel's contract allows exactly that overlap).
std::vector<std::string> runCase(const KernelCase &c, bool inPlace,
                                 int64_t &worstUlps) {
  const PlanEntryPoint &entry = c.plan.entryPoints[0];
  TensorMap inputs;
  std::map<uint32_t, Tensor> byBuffer;
  std::vector<Tensor> inputValues;
  uint64_t seed = std::hash<std::string>()(c.name);
  for (size_t k = 0; k < entry.inputs.size(); ++k) {
    const PlanBuffer &buffer = c.plan.buffers[entry.inputs[k]];
    Tensor value = randomTensor(buffer.dtype, buffer.shape, seed + k);
    inputs[entry.inputNames[k]] = value;
    byBuffer[entry.inputs[k]] = value;
    inputValues.push_back(value);
  }
  Session session(c.plan);
  TensorMap expected = session.run("group", inputs);

  using Test = cuda::GpuTest;
  KernelSource source{
      c.name + ".cu", emitElementwiseKernel(c.plan, c.group), {}};
  cuda::Module module = Test::load(source);
  std::vector<uint32_t> arguments = kernelArguments(c.plan, c.group);
  size_t outputsBegin = arguments.size() - c.group.outputs.size();
  std::vector<DeviceBuffer> memory;
  std::vector<cuda::api::CUdeviceptr> pointers;
  for (size_t k = 0; k < arguments.size(); ++k) {
    const PlanBuffer &buffer = c.plan.buffers[arguments[k]];
    size_t bytes = numElements(buffer.shape) * dtypeSize(buffer.dtype);
    if (k == outputsBegin && inPlace) {
      size_t inputBytes = numElements(c.plan.buffers[arguments[0]].shape) *
                          dtypeSize(c.plan.buffers[arguments[0]].dtype);
      if (inputBytes != bytes)
        return {c.name + ": in place needs an output the size of input 0"};
      pointers.push_back(pointers[0]);
      continue;
    }
    memory.emplace_back(Test::context(), bytes);
    pointers.push_back(memory.back().address());
    if (k >= outputsBegin) {
      // NaN in every float dtype: an element the kernel skips shows.
      cuda::fillBytes(Test::stream(), pointers.back(), 0xff, bytes);
    } else if (buffer.role == BufferRole::Constant) {
      cuda::copyToDevice(Test::stream(), pointers.back(), buffer.data.data(),
                         bytes);
    } else {
      cuda::copyToDevice(Test::stream(), pointers.back(),
                         byBuffer.at(arguments[k]).raw(), bytes);
    }
  }
  long long count = kCount;
  std::vector<void *> argv;
  for (cuda::api::CUdeviceptr &pointer : pointers)
    argv.push_back(&pointer);
  argv.push_back(&count);
  cuda::LaunchShape shape;
  shape.blockX = 256;
  shape.gridX = static_cast<unsigned>(
      std::min<int64_t>((kCount + 255) / 256,
                        int64_t(Test::context().info().multiprocessors) * 4));
  cuda::launchKernel(Test::stream(), module.function(c.name.c_str()), shape,
                     argv.data(), c.name.c_str());
  Test::stream().synchronize();

  std::vector<double> scales = inputScales(inputValues, kCount);
  std::vector<std::string> problems;
  for (size_t k = 0; k < c.group.outputs.size(); ++k) {
    const PlanBuffer &buffer = c.plan.buffers[c.group.outputs[k]];
    Tensor actual(buffer.dtype, buffer.shape);
    cuda::copyToHost(Test::stream(), actual.raw(), pointers[outputsBegin + k],
                     actual.byteSize());
    Test::stream().synchronize();
    std::string name = entry.outputNames[k];
    std::string problem =
        compareOutputs(c, name, expected.at(name), actual, scales, worstUlps);
    if (!problem.empty())
      problems.push_back(problem);
  }
  return problems;
}

TEST_F(GeneratedKernels, MatchTheCpuExecutorOpByOp) {
  std::vector<KernelCase> cases = allKernelCases(kCount);
  for (const KernelCase &c : cases) {
    int64_t worstUlps = 0;
    for (const std::string &problem : runCase(c, false, worstUlps))
      ADD_FAILURE() << problem;
    if (c.ulps > 0)
      std::printf("%s: largest difference %lld ulp (%lld allowed)\n",
                  c.name.c_str(), static_cast<long long>(worstUlps),
                  static_cast<long long>(c.ulps));
  }
  std::printf("%zu generated kernels checked against the CPU executor over "
              "%lld elements each\n",
              cases.size(), static_cast<long long>(kCount));
}

TEST_F(GeneratedKernels, AnOutputMayOverwriteAnInputInPlace) {
  for (const KernelCase &c : allKernelCases(kCount)) {
    if (c.name != "chain_geglu" && c.name != "add_f32" &&
        c.name != "cast_f32_to_i32")
      continue;
    int64_t worstUlps = 0;
    for (const std::string &problem : runCase(c, true, worstUlps))
      ADD_FAILURE() << "in place: " << problem;
  }
}

} // namespace
} // namespace pgc::codegen::testing
