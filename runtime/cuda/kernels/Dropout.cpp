// pg.dropout as an NVRTC kernel whose mask function is CounterRng.h itself.
#include "runtime/cuda/kernels/Dropout.h"

#include "runtime/support/CounterRng.h"
#include "runtime/support/CounterRngText.h"
#include "runtime/support/Error.h"

#include <algorithm>

namespace pgc::cuda {
namespace {

// One element per iteration of a grid-stride loop; the scale is rounded to
// f32 on the host exactly as the CPU kernel rounds it.
const char *const kKernel = R"CUDA(
extern "C" __global__ void pgc_dropout_f32(const float *__restrict__ x,
                                           float *__restrict__ out,
                                           long long n,
                                           unsigned long long base, double p,
                                           float scale) {
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += stride)
    out[i] = pgc::rng::dropoutKeeps(base, (unsigned long long)i, p)
                 ? x[i] * scale
                 : 0.0f;
}
)CUDA";

} // namespace

const KernelSource &dropoutSource() {
  static const KernelSource source{
      "dropout.cu", std::string(rng::counterRngSourceText()) + kKernel, {}};
  return source;
}

void launchDropout(const Module &module, const Stream &stream,
                   api::CUdeviceptr x, api::CUdeviceptr out, int64_t count,
                   uint64_t seed, uint64_t counter, const std::string &site,
                   double p) {
  if (!(p >= 0 && p < 1))
    fail("dropout: p must be in [0, 1), got {}", p);
  unsigned long long base =
      rng::dropoutStream(seed, counter, rng::hashName(site));
  float scale = static_cast<float>(1.0 / (1.0 - p));
  long long n = count;
  const int threads = 256;
  LaunchShape shape;
  shape.gridX = static_cast<unsigned>(
      std::min<int64_t>(std::max<int64_t>(1, (count + threads - 1) / threads),
                        int64_t(stream.context().info().multiprocessors) * 16));
  shape.blockX = threads;
  void *arguments[] = {&x, &out, &n, &base, &p, &scale};
  launchKernel(stream, module.function("pgc_dropout_f32"), shape, arguments,
               "pgc_dropout_f32");
}

} // namespace pgc::cuda
