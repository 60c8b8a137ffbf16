// The dropout kernel: a counter-based keep mask (runtime/support/CounterRng.h)
// and the 1 / (1 - p) scale of inverted dropout.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/support/CounterRng.h"

namespace pgc::cpu {
namespace {

template <typename Acc>
void dropoutAs(const Tensor &x, uint64_t base, double p, Tensor &out) {
  FloatInput<Acc> in(x, "dropout", "input");
  FloatOutput<Acc> result(out, "dropout", "result");
  // The scale rounded once to the compute type, as torch's `1 / (1 - p)`.
  const Acc scale = static_cast<Acc>(1.0 / (1.0 - p));
  const Acc *src = in.data();
  Acc *dst = result.data();
  parallelFor(x.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      dst[i] = rng::dropoutKeeps(base, static_cast<uint64_t>(i), p)
                   ? src[i] * scale
                   : Acc(0);
  });
  result.commit();
}

} // namespace

uint64_t dropoutBase(const Tensor &key, const std::string &site) {
  if (key.dtype() != DType::I64 || key.shape() != Shape{2})
    fail("dropout: key must be i64 [2] (seed, counter), got {} {}",
         dtypeName(key.dtype()), formatShape(key.shape()));
  const int64_t *words = key.data<int64_t>();
  return rng::dropoutStream(static_cast<uint64_t>(words[0]),
                            static_cast<uint64_t>(words[1]),
                            rng::hashName(site));
}

void dropout(const Tensor &x, const Tensor &key, double p,
             const std::string &site, Tensor &out) {
  if (!(p >= 0 && p < 1))
    fail("dropout: p must be in [0, 1), got {}", p);
  if (!isFloat(x.dtype()) || out.dtype() != x.dtype() ||
      out.shape() != x.shape())
    fail("dropout: result must be input's {} {}, got {} {}",
         dtypeName(x.dtype()), formatShape(x.shape()), dtypeName(out.dtype()),
         formatShape(out.shape()));
  uint64_t base = dropoutBase(key, site);
  if (x.dtype() == DType::F64)
    dropoutAs<double>(x, base, p, out);
  else
    dropoutAs<float>(x, base, p, out);
}

} // namespace pgc::cpu
