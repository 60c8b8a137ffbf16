// GPU checks of the cuBLASLt GEMMs against an f64 CPU reference: layouts,
// batches, epilogues, PaliGemma shapes.
#include "GpuFixture.h"

#include "runtime/cuda/Blas.h"

#include <cmath>
#include <random>

namespace pgc::cuda {
namespace {

using GpuGemm = GpuTest;

std::vector<uint16_t> randomBf16(size_t count, std::mt19937 &rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<uint16_t> values(count);
  for (uint16_t &v : values)
    v = f32ToBf16(uniform(rng));
  return values;
}

double geluTanh(double x) {
  return 0.5 * x *
         (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/// Runs one GEMM on the GPU and compares `samples` of its outputs (all when
/// samples <= 0) with an f64 reference from the same bf16 inputs.
void checkGemm(Blas &blas, GemmArgs args, int samples, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t sizeA = args.m * args.k, sizeB = args.k * args.n,
                sizeC = args.m * args.n;
  if (args.batch > 1) {
    args.strideA = sizeA + 64;
    args.strideB = sizeB + 128;
    args.strideC = sizeC + 256;
  }
  auto total = [&](int64_t size, int64_t stride) {
    return size_t(args.batch > 1 ? stride * (args.batch - 1) + size : size);
  };
  std::vector<uint16_t> a = randomBf16(total(sizeA, args.strideA), rng);
  std::vector<uint16_t> b = randomBf16(total(sizeB, args.strideB), rng);
  std::vector<uint16_t> biasBf16 = randomBf16(size_t(args.n), rng);
  std::vector<float> biasF32(biasBf16.size());
  for (size_t i = 0; i < biasF32.size(); ++i)
    biasF32[i] = bf16ToF32(biasBf16[i]);
  bool f32Out = args.outputType == DType::F32;
  size_t elementBytes = f32Out ? 4 : 2;
  DeviceBuffer da = GpuTest::upload(a), db = GpuTest::upload(b);
  DeviceBuffer dbias =
      f32Out ? GpuTest::upload(biasF32) : GpuTest::upload(biasBf16);
  size_t countC = total(sizeC, args.strideC);
  DeviceBuffer dc(GpuTest::context(), countC * elementBytes);
  fillBytes(GpuTest::stream(), dc.address(), 0xFF, dc.bytes());
  args.a = da.address();
  args.b = db.address();
  args.c = dc.address();
  bool hasBias = args.epilogue == GemmEpilogue::Bias ||
                 args.epilogue == GemmEpilogue::BiasGelu;
  args.bias = hasBias ? dbias.address() : 0;
  blas.gemm(GpuTest::stream(), args);
  std::vector<uint8_t> raw = GpuTest::download<uint8_t>(dc, dc.bytes());

  auto output = [&](int64_t index) -> double {
    if (f32Out)
      return reinterpret_cast<const float *>(raw.data())[index];
    return bf16ToF32(reinterpret_cast<const uint16_t *>(raw.data())[index]);
  };
  std::uniform_int_distribution<int64_t> pickRow(0, args.m - 1),
      pickCol(0, args.n - 1), pickBatch(0, args.batch - 1);
  int64_t checks = samples > 0 ? samples : args.m * args.n * args.batch;
  double errorSquared = 0, referenceSquared = 0;
  std::vector<std::tuple<int64_t, double, double>> seen;
  for (int64_t s = 0; s < checks; ++s) {
    int64_t batch = samples > 0 ? pickBatch(rng) : s / (args.m * args.n);
    int64_t i = samples > 0 ? pickRow(rng) : (s / args.n) % args.m;
    int64_t j = samples > 0 ? pickCol(rng) : s % args.n;
    const uint16_t *batchA = a.data() + batch * args.strideA;
    const uint16_t *batchB = b.data() + batch * args.strideB;
    double sum = 0;
    for (int64_t p = 0; p < args.k; ++p) {
      double x = bf16ToF32(args.transA ? batchA[p * args.m + i]
                                       : batchA[i * args.k + p]);
      double y = bf16ToF32(args.transB ? batchB[j * args.k + p]
                                       : batchB[p * args.n + j]);
      sum += x * y;
    }
    double reference = args.alpha * sum;
    if (hasBias)
      reference += biasF32[j];
    if (args.epilogue == GemmEpilogue::Gelu ||
        args.epilogue == GemmEpilogue::BiasGelu)
      reference = geluTanh(reference);
    double got = output(batch * args.strideC + i * args.n + j);
    ASSERT_FALSE(std::isnan(got)) << "unwritten or NaN at " << i << "," << j;
    errorSquared += (got - reference) * (got - reference);
    referenceSquared += reference * reference;
    seen.emplace_back(s, got, reference);
  }
  double relative = std::sqrt(errorSquared / referenceSquared);
  // bf16 inputs are exact, products and f32 sums are close to exact: what
  // remains is the output rounding (2^-9 relative for bf16).
  EXPECT_LT(relative, f32Out ? 1e-5 : 5e-3)
      << args.m << "x" << args.n << "x" << args.k << " batch " << args.batch;
  double rms = std::sqrt(referenceSquared / checks);
  for (auto &[s, got, reference] : seen)
    ASSERT_LE(std::fabs(got - reference),
              std::fabs(reference) * (f32Out ? 1e-5 : 1.0 / 128) + rms * 1e-4)
        << "sample " << s;
}

TEST_F(GpuGemm, LayoutsBatchesAndEpilogues) {
  Blas blas(context());
  for (bool transA : {false, true})
    for (bool transB : {false, true})
      for (DType out : {DType::BF16, DType::F32}) {
        GemmArgs args;
        args.m = 96;
        args.n = 80;
        args.k = 136;
        args.transA = transA;
        args.transB = transB;
        args.outputType = out;
        checkGemm(blas, args, 0, 1);
      }
  for (GemmEpilogue epilogue :
       {GemmEpilogue::Bias, GemmEpilogue::Gelu, GemmEpilogue::BiasGelu}) {
    GemmArgs args;
    args.m = 128;
    args.n = 256;
    args.k = 64;
    args.transB = true; // a linear layer: x W^T + b
    args.epilogue = epilogue;
    checkGemm(blas, args, 0, 2);
  }
  GemmArgs batched;
  batched.m = 64;
  batched.n = 96;
  batched.k = 128;
  batched.batch = 3;
  batched.alpha = 0.5f;
  checkGemm(blas, batched, 0, 3);
  size_t plans = blas.cachedPlans();
  checkGemm(blas, batched, 0, 4); // same configuration: no new plan
  EXPECT_EQ(blas.cachedPlans(), plans);
}

TEST_F(GpuGemm, PaliGemmaShapesMatchTheReference) {
  Blas blas(context());
  struct Shape3 {
    int64_t m, n, k;
  };
  // Gemma q_proj/o_proj, Gemma down_proj, SigLIP fc2 (tokens x out x in).
  for (Shape3 s : {Shape3{4336, 2048, 2048}, Shape3{4336, 2048, 16384},
                   Shape3{4096, 1152, 4304}}) {
    GemmArgs args;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.transB = true;
    checkGemm(blas, args, 3000, 7);
  }
}

} // namespace
} // namespace pgc::cuda
