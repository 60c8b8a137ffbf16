// Grouped-query scaled dot-product attention with an additive or boolean mask,
// and its backward kernel.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace pgc::cpu {
namespace {

struct AttentionDims {
  int64_t batch, queryHeads, kvHeads, queryLength, keyLength, headDim, valueDim;
  // Offsets of the mask's [b, h] plane (0 for a broadcast dim of size 1).
  int64_t maskBatchStride = 0, maskHeadStride = 0;
};

AttentionDims checkAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                             const Tensor *mask, const char *op) {
  requireRank(q, 4, op, "q");
  requireRank(k, 4, op, "k");
  requireRank(v, 4, op, "v");
  AttentionDims d{q.dim(0), q.dim(1), k.dim(1), q.dim(2),
                  k.dim(2), q.dim(3), v.dim(3)};
  if (d.kvHeads == 0 || d.queryHeads % d.kvHeads != 0)
    fail("{}: {} query heads cannot share {} kv heads evenly", op, d.queryHeads,
         d.kvHeads);
  requireShape(k, {d.batch, d.kvHeads, d.keyLength, d.headDim}, op, "k");
  requireShape(v, {d.batch, d.kvHeads, d.keyLength, d.valueDim}, op, "v");
  requireFloat(q, op, "q");
  requireFloat(k, op, "k");
  requireFloat(v, op, "v");
  if (mask) {
    requireRank(*mask, 4, op, "mask");
    int64_t mb = mask->dim(0), mh = mask->dim(1);
    if ((mb != 1 && mb != d.batch) || (mh != 1 && mh != d.queryHeads) ||
        mask->dim(2) != d.queryLength || mask->dim(3) != d.keyLength)
      fail("{}: mask has shape {}, expected [{} or 1, {} or 1, {}, {}]", op,
           formatShape(mask->shape()), d.batch, d.queryHeads, d.queryLength,
           d.keyLength);
    if (mask->dtype() != DType::Bool)
      requireFloat(*mask, op, "mask");
    int64_t plane = d.queryLength * d.keyLength;
    d.maskHeadStride = mh == 1 ? 0 : plane;
    d.maskBatchStride = mb == 1 ? 0 : mh * plane;
  }
  return d;
}

// Each [rows, columns] plane of `planes` transposed to [columns, rows].
template <typename Acc>
std::vector<Acc> transposedPlanes(const Acc *planes, int64_t count,
                                  int64_t rows, int64_t columns) {
  std::vector<Acc> out(static_cast<size_t>(count * rows * columns));
  for (int64_t p = 0; p < count; ++p)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < columns; ++c)
        out[(p * columns + c) * rows + r] =
            planes[(p * rows + r) * columns + c];
  return out;
}

// Computes one query row's probabilities p[0..S) (f32 or f64); all zeros when
// every key is masked out.
template <typename Acc> class RowProbabilities {
public:
  RowProbabilities(const Tensor &q, const Tensor &k, const Tensor *mask,
                   const AttentionDims &d, Acc scale, const char *op)
      : fq_(q, op, "q"), fk_(k, op, "k"), d_(d), scale_(scale) {
    keysByDim_ = transposedPlanes(fk_.data(), d.batch * d.kvHeads, d.keyLength,
                                  d.headDim);
    if (mask && mask->dtype() == DType::Bool)
      allowed_ = mask->data<uint8_t>();
    else if (mask)
      additive_ = std::make_unique<FloatInput<Acc>>(*mask, op, "mask");
  }

  const FloatInput<Acc> &q() const { return fq_; }
  const FloatInput<Acc> &k() const { return fk_; }

  void compute(int64_t b, int64_t h, int64_t l, Acc *p) const {
    int64_t group = d_.queryHeads / d_.kvHeads;
    const Acc *query =
        fq_.data() +
        ((b * d_.queryHeads + h) * d_.queryLength + l) * d_.headDim;
    // Keys as [D, S]: the dot products of all keys advance together over e,
    // each still summed in e order, in a loop the compiler vectorizes.
    const Acc *keys = keysByDim_.data() +
                      (b * d_.kvHeads + h / group) * d_.keyLength * d_.headDim;
    int64_t maskRow =
        b * d_.maskBatchStride + h * d_.maskHeadStride + l * d_.keyLength;
    std::fill(p, p + d_.keyLength, Acc(0));
    for (int64_t e = 0; e < d_.headDim; ++e) {
      Acc qe = query[e];
      const Acc *keyColumn = keys + e * d_.keyLength;
      for (int64_t s = 0; s < d_.keyLength; ++s)
        p[s] += qe * keyColumn[s];
    }
    Acc maximum = -INFINITY;
    for (int64_t s = 0; s < d_.keyLength; ++s) {
      if (allowed_ && !allowed_[maskRow + s]) {
        p[s] = -INFINITY;
        continue;
      }
      p[s] = scale_ * p[s];
      if (additive_)
        p[s] += (*additive_)[maskRow + s];
      maximum = std::fmax(maximum, p[s]);
    }
    if (maximum == -INFINITY) {
      std::fill(p, p + d_.keyLength, Acc(0));
      return;
    }
    Acc total = 0;
    for (int64_t s = 0; s < d_.keyLength; ++s) {
      p[s] = std::exp(p[s] - maximum);
      total += p[s];
    }
    for (int64_t s = 0; s < d_.keyLength; ++s)
      p[s] /= total;
  }

private:
  FloatInput<Acc> fq_, fk_;
  std::vector<Acc> keysByDim_;
  const uint8_t *allowed_ = nullptr;
  std::unique_ptr<FloatInput<Acc>> additive_;
  AttentionDims d_;
  Acc scale_;
};

template <typename Acc>
void attentionTyped(const Tensor &q, const Tensor &k, const Tensor &v,
                    const Tensor *mask, Acc scale, const AttentionDims &d,
                    Tensor &out) {
  RowProbabilities<Acc> rows(q, k, mask, d, scale, "attention");
  FloatInput<Acc> fv(v, "attention", "v");
  FloatOutput<Acc> fo(out, "attention", "result");
  int64_t group = d.queryHeads / d.kvHeads;
  int64_t rowCount = d.batch * d.queryHeads * d.queryLength;
  parallelFor(rowCount, grainFor(d.keyLength * (d.headDim + d.valueDim)),
              [&](int64_t begin, int64_t end) {
                std::vector<Acc> p(static_cast<size_t>(d.keyLength));
                for (int64_t row = begin; row < end; ++row) {
                  int64_t l = row % d.queryLength;
                  int64_t h = (row / d.queryLength) % d.queryHeads;
                  int64_t b = row / (d.queryLength * d.queryHeads);
                  rows.compute(b, h, l, p.data());
                  const Acc *values = fv.data() + (b * d.kvHeads + h / group) *
                                                      d.keyLength * d.valueDim;
                  // Every output sums over s in order; the e loop inside
                  // reads value rows contiguously.
                  Acc *result = fo.data() + row * d.valueDim;
                  std::fill(result, result + d.valueDim, Acc(0));
                  for (int64_t s = 0; s < d.keyLength; ++s) {
                    Acc weight = p[s];
                    const Acc *valueRow = values + s * d.valueDim;
                    for (int64_t e = 0; e < d.valueDim; ++e)
                      result[e] += weight * valueRow[e];
                  }
                }
              });
  fo.commit();
}

// With P = softmax(S) and O = P V: dV = P^T dO, dP = dO V^T,
// dS = P * (dP - rowsum(dP * P)), dQ = scale dS K, dK = scale dS^T Q; dK and
// dV sum over the query heads that share a kv head.
template <typename Acc>
void attentionGradTyped(const Tensor &q, const Tensor &k, const Tensor &v,
                        const Tensor *mask, Acc scale, const AttentionDims &d,
                        const Tensor &dout, Tensor &dq, Tensor &dk,
                        Tensor &dv) {
  const char *op = "attention_grad";
  RowProbabilities<Acc> rows(q, k, mask, d, scale, op);
  FloatInput<Acc> fv(v, op, "v"), fdo(dout, op, "dout");
  FloatOutput<Acc> fdq(dq, op, "dq"), fdk(dk, op, "dk"), fdv(dv, op, "dv");
  int64_t group = d.queryHeads / d.kvHeads;
  int64_t rowCount = d.batch * d.queryHeads * d.queryLength;
  // Scratch kept per thread across calls: every element is written before
  // it is read, and a fresh zeroed [rows, S] pair per call cost as much as
  // the loops.
  // The lambdas below run on pool threads, which have scratch vectors of
  // their own: they see the caller's through these pointers.
  static thread_local std::vector<Acc> probabilityScratch, scoreGradScratch;
  size_t scratch = static_cast<size_t>(rowCount * d.keyLength);
  if (probabilityScratch.size() < scratch) {
    probabilityScratch.resize(scratch);
    scoreGradScratch.resize(scratch);
  }
  Acc *probabilities = probabilityScratch.data();
  Acc *scoreGrads = scoreGradScratch.data();
  std::vector<Acc> vByDim =
      transposedPlanes(fv.data(), d.batch * d.kvHeads, d.keyLength, d.valueDim);
  parallelFor(rowCount, grainFor(d.keyLength * (2 * d.headDim + d.valueDim)),
              [&](int64_t begin, int64_t end) {
                for (int64_t row = begin; row < end; ++row) {
                  int64_t l = row % d.queryLength;
                  int64_t h = (row / d.queryLength) % d.queryHeads;
                  int64_t b = row / (d.queryLength * d.queryHeads);
                  Acc *p = &probabilities[row * d.keyLength];
                  Acc *ds = &scoreGrads[row * d.keyLength];
                  rows.compute(b, h, l, p);
                  int64_t kvPlane = (b * d.kvHeads + h / group) * d.keyLength;
                  const Acc *gradOut = fdo.data() + row * d.valueDim;
                  // dP = dO V^T through V as [Dv, S], each entry summed over
                  // e in order.
                  const Acc *valuesByDim = vByDim.data() + kvPlane * d.valueDim;
                  std::fill(ds, ds + d.keyLength, Acc(0));
                  for (int64_t e = 0; e < d.valueDim; ++e) {
                    Acc g = gradOut[e];
                    const Acc *valueColumn = valuesByDim + e * d.keyLength;
                    for (int64_t s = 0; s < d.keyLength; ++s)
                      ds[s] += g * valueColumn[s];
                  }
                  Acc weighted = 0;
                  for (int64_t s = 0; s < d.keyLength; ++s)
                    weighted += ds[s] * p[s];
                  for (int64_t s = 0; s < d.keyLength; ++s)
                    ds[s] = p[s] * (ds[s] - weighted);
                  // dQ = dS K, summed over s in order for every e.
                  Acc *gradQuery = fdq.data() + row * d.headDim;
                  std::fill(gradQuery, gradQuery + d.headDim, Acc(0));
                  for (int64_t s = 0; s < d.keyLength; ++s) {
                    Acc c = ds[s];
                    const Acc *keyRow =
                        rows.k().data() + (kvPlane + s) * d.headDim;
                    for (int64_t e = 0; e < d.headDim; ++e)
                      gradQuery[e] += c * keyRow[e];
                  }
                  for (int64_t e = 0; e < d.headDim; ++e)
                    gradQuery[e] = scale * gradQuery[e];
                }
              });
  // One thread owns each key row of dK and dV and sums over the group's
  // query heads and query positions in a fixed order.
  int64_t keyRows = d.batch * d.kvHeads * d.keyLength;
  parallelFor(
      keyRows, grainFor(group * d.queryLength * (d.headDim + d.valueDim)),
      [&](int64_t begin, int64_t end) {
        for (int64_t keyRow = begin; keyRow < end; ++keyRow) {
          int64_t s = keyRow % d.keyLength;
          int64_t kvHead = (keyRow / d.keyLength) % d.kvHeads;
          int64_t b = keyRow / (d.keyLength * d.kvHeads);
          Acc *gradKey = fdk.data() + keyRow * d.headDim;
          Acc *gradValue = fdv.data() + keyRow * d.valueDim;
          std::fill(gradKey, gradKey + d.headDim, Acc(0));
          std::fill(gradValue, gradValue + d.valueDim, Acc(0));
          for (int64_t h = kvHead * group; h < (kvHead + 1) * group; ++h)
            for (int64_t l = 0; l < d.queryLength; ++l) {
              int64_t row = (b * d.queryHeads + h) * d.queryLength + l;
              Acc ds = scale * scoreGrads[row * d.keyLength + s];
              Acc p = probabilities[row * d.keyLength + s];
              const Acc *query = rows.q().data() + row * d.headDim;
              const Acc *gradOut = fdo.data() + row * d.valueDim;
              for (int64_t e = 0; e < d.headDim; ++e)
                gradKey[e] += ds * query[e];
              for (int64_t e = 0; e < d.valueDim; ++e)
                gradValue[e] += p * gradOut[e];
            }
        }
      });
  fdq.commit();
  fdk.commit();
  fdv.commit();
}

bool needsF64(const Tensor &q, const Tensor &k, const Tensor &v,
              const Tensor *mask) {
  return anyF64(
      {q.dtype(), k.dtype(), v.dtype(), mask ? mask->dtype() : DType::Bool});
}

} // namespace

void attention(const Tensor &q, const Tensor &k, const Tensor &v,
               const Tensor *mask, double scale, Tensor &out) {
  AttentionDims d = checkAttention(q, k, v, mask, "attention");
  requireDType(out, q.dtype(), "attention", "result");
  requireShape(out, {d.batch, d.queryHeads, d.queryLength, d.valueDim},
               "attention", "result");
  if (needsF64(q, k, v, mask))
    return attentionTyped<double>(q, k, v, mask, scale, d, out);
  attentionTyped<float>(q, k, v, mask, static_cast<float>(scale), d, out);
}

void attentionGrad(const Tensor &q, const Tensor &k, const Tensor &v,
                   const Tensor *mask, double scale, const Tensor &dout,
                   Tensor &dq, Tensor &dk, Tensor &dv) {
  const char *op = "attention_grad";
  AttentionDims d = checkAttention(q, k, v, mask, op);
  requireShape(dout, {d.batch, d.queryHeads, d.queryLength, d.valueDim}, op,
               "dout");
  requireShape(dq, q.shape(), op, "dq");
  requireShape(dk, k.shape(), op, "dk");
  requireShape(dv, v.shape(), op, "dv");
  if (needsF64(q, k, v, mask) ||
      anyF64({dout.dtype(), dq.dtype(), dk.dtype(), dv.dtype()}))
    return attentionGradTyped<double>(q, k, v, mask, scale, d, dout, dq, dk,
                                      dv);
  attentionGradTyped<float>(q, k, v, mask, static_cast<float>(scale), d, dout,
                            dq, dk, dv);
}

} // namespace pgc::cpu
