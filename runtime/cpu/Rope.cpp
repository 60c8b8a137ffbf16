// Rotary position embedding (rotate-half, as HF Gemma) and its transpose for
// the backward pass.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cmath>

namespace pgc::cpu {
namespace {

struct RopeDims {
  int64_t batch, heads, length, width;
};

RopeDims checkRope(const Tensor &x, const Tensor &positions, const Tensor &out,
                   const char *op, const char *inName, const char *outName) {
  requireRank(x, 4, op, inName);
  RopeDims d{x.dim(0), x.dim(1), x.dim(2), x.dim(3)};
  if (d.width % 2 != 0)
    fail("{}: head dim {} of {} {} must be even", op, d.width, inName,
         formatShape(x.shape()));
  requireShape(positions, {d.batch, d.length}, op, "positions");
  requireShape(out, x.shape(), op, outName);
  return d;
}

// cos and sin of position * inv_freq[k] for every (b, l) and k < D/2, with
// inv_freq[k] = 1 / theta^(2k / D) computed as HF does (in f32, or in f64
// for f64 tensors).
template <typename Acc>
void rotationTable(const Tensor &positions, const RopeDims &d, double theta,
                   const char *op, std::vector<Acc> &cosines,
                   std::vector<Acc> &sines) {
  std::vector<int64_t> pos = readIndices(positions, op, "positions");
  int64_t half = d.width / 2;
  std::vector<Acc> inverseFrequency(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) {
    Acc exponent = static_cast<Acc>(2 * k) / static_cast<Acc>(d.width);
    inverseFrequency[k] = Acc(1) / std::pow(static_cast<Acc>(theta), exponent);
  }
  cosines.resize(pos.size() * half);
  sines.resize(pos.size() * half);
  for (size_t p = 0; p < pos.size(); ++p)
    for (int64_t k = 0; k < half; ++k) {
      Acc angle = static_cast<Acc>(pos[p]) * inverseFrequency[k];
      cosines[p * half + k] = std::cos(angle);
      sines[p * half + k] = std::sin(angle);
    }
}

// Applies the rotation (sign = +1) or its transpose (sign = -1) to every
// [D] vector: out1 = x1 cos - sign x2 sin, out2 = x2 cos + sign x1 sin.
template <typename Acc>
void rotate(const Tensor &x, const Tensor &positions, double theta, Acc sign,
            const RopeDims &d, const char *op, Tensor &out) {
  std::vector<Acc> cosines, sines;
  rotationTable<Acc>(positions, d, theta, op, cosines, sines);
  FloatInput<Acc> fx(x, op, "operand");
  FloatOutput<Acc> fo(out, op, "result");
  int64_t half = d.width / 2;
  int64_t vectors = d.batch * d.heads * d.length;
  parallelFor(vectors, grainFor(d.width * 4), [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      int64_t b = v / (d.heads * d.length), l = v % d.length;
      const Acc *c = &cosines[(b * d.length + l) * half];
      const Acc *s = &sines[(b * d.length + l) * half];
      const Acc *in = fx.data() + v * d.width;
      Acc *result = fo.data() + v * d.width;
      for (int64_t k = 0; k < half; ++k) {
        Acc first = in[k], second = in[k + half];
        result[k] = first * c[k] - sign * second * s[k];
        result[k + half] = second * c[k] + sign * first * s[k];
      }
    }
  });
  fo.commit();
}

} // namespace

void rope(const Tensor &x, const Tensor &positions, double theta, Tensor &out) {
  RopeDims d = checkRope(x, positions, out, "rope", "operand", "result");
  requireFloat(x, "rope", "operand");
  requireDType(out, x.dtype(), "rope", "result");
  if (x.dtype() == DType::F64)
    return rotate<double>(x, positions, theta, 1.0, d, "rope", out);
  rotate<float>(x, positions, theta, 1.0f, d, "rope", out);
}

void ropeGrad(const Tensor &dy, const Tensor &positions, double theta,
              Tensor &dx) {
  RopeDims d = checkRope(dy, positions, dx, "rope_grad", "dy", "dx");
  if (anyF64({dy.dtype(), dx.dtype()}))
    return rotate<double>(dy, positions, theta, -1.0, d, "rope_grad", dx);
  rotate<float>(dy, positions, theta, -1.0f, d, "rope_grad", dx);
}

} // namespace pgc::cpu
