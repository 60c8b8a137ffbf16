// GPU checks of the NVRTC kernels against their CPU references (NF4 bit for
// bit), the cache on a device, and graph replay.
#include "GpuFixture.h"

#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/ArtifactKernels.h"
#include "runtime/cuda/Graph.h"
#include "runtime/cuda/kernels/Dropout.h"
#include "runtime/cuda/kernels/FusedElementwise.h"
#include "runtime/cuda/kernels/Nf4Dequantize.h"
#include "runtime/quant/DynamicMap.h"
#include "runtime/quant/Nf4.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

namespace pgc::cuda {
namespace {

using GpuKernels = GpuTest;

/// Device copies of a quantized weight, kept alive with the descriptor.
struct UploadedNf4 {
  std::vector<DeviceBuffer> buffers;
  DeviceNf4Weight weight;
};

template <typename T> std::vector<T> tensorValues(const Tensor &tensor) {
  const T *data = tensor.data<T>();
  return std::vector<T>(data, data + tensor.numel());
}

UploadedNf4 uploadNf4(const quant::Nf4Weight &q) {
  UploadedNf4 up;
  auto add = [&](DeviceBuffer buffer) {
    up.buffers.push_back(std::move(buffer));
    return up.buffers.back().address();
  };
  up.weight.packed = add(GpuTest::upload(tensorValues<uint8_t>(q.packed)));
  if (q.doubleQuant) {
    up.weight.absmaxCodes =
        add(GpuTest::upload(tensorValues<uint8_t>(q.absmaxCodes)));
    up.weight.absmaxScales =
        add(GpuTest::upload(tensorValues<float>(q.absmaxScales)));
    const auto &map = quant::signedDynamicMap();
    up.weight.dynamicMap =
        add(GpuTest::upload(std::vector<float>(map.begin(), map.end())));
  } else {
    up.weight.absmax = add(GpuTest::upload(tensorValues<float>(q.absmax)));
  }
  up.weight.absmaxOffset = q.absmaxOffset;
  up.weight.doubleQuant = q.doubleQuant;
  up.weight.numel = q.numel();
  up.weight.blockSize = q.blockSize;
  return up;
}

Tensor randomWeight(Shape shape, uint32_t seed) {
  Tensor weight(DType::BF16, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (int64_t i = 0; i < weight.numel(); ++i)
    weight.data<uint16_t>()[i] = f32ToBf16(normal(rng));
  return weight;
}

TEST_F(GpuKernels, Nf4DequantizationIsBitExact) {
  Module module = load(nf4DequantizeSource());
  struct Case {
    Shape shape;
    int64_t block;
    bool nested;
  };
  // PaliGemma's q_proj, an SigLIP fc shape, a ragged odd count, and one
  // larger than the launch's grid cap (64 blocks of 1024 groups of 8 per SM)
  // on an A100 or H100/H200, so threads loop over several grid strides.
  for (const Case &c :
       {Case{{2048, 2048}, 64, true}, Case{{4304, 1152}, 64, false},
        Case{{1000003}, 64, true}, Case{{77, 131}, 128, true},
        Case{{8192, 9001}, 64, true}}) {
    quant::Nf4Weight q = quant::quantizeNf4(randomWeight(c.shape, 17),
                                            {c.block, c.nested}, "weight");
    Tensor expected = quant::dequantizeNf4(q, DType::BF16);
    UploadedNf4 up = uploadNf4(q);
    DeviceBuffer out(context(), q.numel() * 2);
    fillBytes(stream(), out.address(), 0xFF, out.bytes()); // NaN poison
    launchNf4Dequantize(module, stream(), up.weight, out.address());
    std::vector<uint16_t> got = download<uint16_t>(out, q.numel());
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < q.numel(); ++i)
      if (got[i] != expected.data<uint16_t>()[i] && mismatches++ == 0)
        first = i;
    EXPECT_EQ(mismatches, 0)
        << formatShape(c.shape) << " block " << c.block << " nested "
        << c.nested << ": first at " << first;
  }
}

int64_t orderedBits(uint16_t bf16) {
  return (bf16 & 0x8000) ? -int64_t(bf16 & 0x7fff) : int64_t(bf16);
}

TEST_F(GpuKernels, GegluMatchesTheCpuReference) {
  Module module = load(gegluSource());
  const int64_t count = (int64_t(1) << 23) + 5;
  Tensor gate = randomWeight({count}, 1).to(DType::F32);
  Tensor up = randomWeight({count}, 2).to(DType::F32);
  for (int64_t i = 0; i < count; ++i) { // spread values over gelu's range
    gate.data<float>()[i] *= 150.0f;
    up.data<float>()[i] *= 50.0f;
  }
  Tensor gateBf16 = gate.to(DType::BF16), upBf16 = up.to(DType::BF16);
  Tensor expected = gegluReference(gateBf16, upBf16);
  DeviceBuffer g = upload(tensorValues<uint16_t>(gateBf16));
  DeviceBuffer u = upload(tensorValues<uint16_t>(upBf16));
  DeviceBuffer out(context(), count * 2);
  fillBytes(stream(), out.address(), 0xFF, out.bytes());
  launchGeglu(module, stream(), g.address(), u.address(), out.address(), count);
  std::vector<uint16_t> got = download<uint16_t>(out, count);
  int64_t offByOne = 0;
  for (int64_t i = 0; i < count; ++i) {
    int64_t distance = std::llabs(orderedBits(got[i]) -
                                  orderedBits(expected.data<uint16_t>()[i]));
    ASSERT_LE(distance, 1) << "i = " << i;
    offByOne += distance;
  }
  // tanhf differs from the host's in the last float bit only now and then.
  EXPECT_LT(offByOne, count / 1000);
}

// The GPU keeps exactly the elements the CPU keeps (one mask function,
// CounterRng.h, compiled by both), with the same f32 product.
TEST_F(GpuKernels, DropoutMatchesTheCpuKernelBitForBit) {
  Module module = load(dropoutSource());
  const int64_t count = (int64_t(1) << 22) + 3;
  Tensor x = randomWeight({count}, 4).to(DType::F32);
  const uint64_t seed = 0xfedcba9876543210ull, counter = 12;
  Tensor key(DType::I64, {2});
  key.data<int64_t>()[0] = static_cast<int64_t>(seed);
  key.data<int64_t>()[1] = static_cast<int64_t>(counter);
  for (double p : {0.1, 0.5}) {
    Tensor expected(DType::F32, {count});
    cpu::dropout(x, key, p, "layers.0.self_attn.q_proj", expected);
    DeviceBuffer in = upload(tensorValues<float>(x));
    DeviceBuffer out(context(), count * 4);
    fillBytes(stream(), out.address(), 0xFF, out.bytes()); // NaN poison
    launchDropout(module, stream(), in.address(), out.address(), count, seed,
                  counter, "layers.0.self_attn.q_proj", p);
    std::vector<float> got = download<float>(out, count);
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < count; ++i)
      if (std::memcmp(&got[i], expected.data<float>() + i, 4) != 0 &&
          mismatches++ == 0)
        first = i;
    EXPECT_EQ(mismatches, 0) << "p " << p << ": first at " << first;
  }
}

TEST_F(GpuKernels, WarmCacheLoadsWithoutCompiling) {
  char pattern[] = "/tmp/pgc-gpu-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  KernelCache cold(pattern), warm(pattern);
  Module first = loadKernelModule(context(), Nvrtc::instance(), cold,
                                  nf4DequantizeSource());
  Module second = loadKernelModule(context(), Nvrtc::instance(), warm,
                                   nf4DequantizeSource());
  EXPECT_EQ(cold.stats().compilations, 1);
  EXPECT_EQ(warm.stats().compilations, 0);
  EXPECT_NE(second.function("pgc_nf4_dequantize_bf16_nested"), nullptr);
  std::system((std::string("rm -rf ") + pattern).c_str());
}

TEST_F(GpuKernels, GraphReplayGivesIdenticalResults) {
  Module nf4 = load(nf4DequantizeSource());
  Module geglu = load(gegluSource());
  quant::Nf4Weight q =
      quant::quantizeNf4(randomWeight({2048, 4096}, 5), {64, true}, "w");
  UploadedNf4 weight = uploadNf4(q);
  Tensor upValues = randomWeight({2048, 4096}, 6);
  DeviceBuffer up = upload(tensorValues<uint16_t>(upValues));
  DeviceBuffer dequantized(context(), q.numel() * 2);
  DeviceBuffer out(context(), q.numel() * 2);
  auto enqueue = [&] {
    launchNf4Dequantize(nf4, stream(), weight.weight, dequantized.address());
    launchGeglu(geglu, stream(), dequantized.address(), up.address(),
                out.address(), q.numel());
  };
  enqueue();
  std::vector<uint16_t> eager = download<uint16_t>(out, q.numel());

  GraphExec graph = captureGraph(stream(), enqueue);
  for (int replay = 0; replay < 3; ++replay) {
    fillBytes(stream(), dequantized.address(), 0xFF, dequantized.bytes());
    fillBytes(stream(), out.address(), 0xFF, out.bytes());
    graph.launch(stream());
    std::vector<uint16_t> replayed = download<uint16_t>(out, q.numel());
    ASSERT_EQ(replayed, eager) << "replay " << replay;
  }
  // And the eager result is the CPU reference of the whole chain.
  Tensor chained =
      gegluReference(quant::dequantizeNf4(q, DType::BF16), upValues);
  int64_t far = 0;
  for (int64_t i = 0; i < q.numel(); ++i)
    far += std::llabs(orderedBits(eager[i]) -
                      orderedBits(chained.data<uint16_t>()[i])) > 1;
  EXPECT_EQ(far, 0);
}

// An artifact's kernel runs from its CUBIN when one fits the device, else from
// its source through NVRTC; both give the same result.
TEST_F(GpuKernels, ArtifactKernelsLoadFromCubinOrSource) {
  const std::string name = "pgc_test_scale_add";
  const std::string text = R"CUDA(
extern "C" __global__ void pgc_test_scale_add(float *x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    x[i] = __fadd_rn(__fmul_rn(x[i], 3.0f), 1.0f);
}
)CUDA";
  Plan plan;
  PlanKernel source;
  source.target = "cuda";
  source.name = name;
  source.source = text;
  plan.kernels.push_back(source);
  int arch = context().info().arch();
  const std::vector<int> supported = Nvrtc::instance().supportedArchs();
  bool nvrtcKnowsDevice =
      std::find(supported.begin(), supported.end(), arch) != supported.end();
  for (bool withCubin : {false, true}) {
    if (withCubin) {
      if (!nvrtcKnowsDevice)
        continue; // no CUBIN can be made for a device newer than NVRTC
      CompiledKernel compiled = Nvrtc::instance().compile(
          KernelSource{name + ".cu", text, {}}, CompileTarget{arch, false});
      PlanKernel cubin = source;
      cubin.source.clear();
      cubin.arch = "sm_" + std::to_string(arch);
      cubin.binary.assign(compiled.image.begin(), compiled.image.end());
      plan.kernels.push_back(cubin);
    }
    ArtifactKernels kernels(context(), plan, Nvrtc::instance(), cache());
    const int64_t count = 100003;
    std::vector<float> values(count);
    for (int64_t i = 0; i < count; ++i)
      values[i] = static_cast<float>(i) * 0.25f - 7.0f;
    DeviceBuffer buffer = upload(values);
    api::CUdeviceptr pointer = buffer.address();
    long long n = count;
    void *arguments[] = {&pointer, &n};
    LaunchShape shape;
    shape.gridX = 64;
    shape.blockX = 256;
    launchKernel(stream(), kernels.function(0), shape, arguments, name.c_str());
    // A second call reuses the loaded module.
    EXPECT_EQ(kernels.function(0), kernels.function(0));
    std::vector<float> got = download<float>(buffer, count);
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(got[i], values[i] * 3.0f + 1.0f) << "element " << i;
    EXPECT_EQ(kernels.loadedFromArtifact(), withCubin ? 1 : 0);
    EXPECT_EQ(kernels.loadedFromSource(), withCubin ? 0 : 1);
  }
}

} // namespace
} // namespace pgc::cuda
