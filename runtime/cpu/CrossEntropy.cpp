// Token-mean cross-entropy with an ignore index (HF's CrossEntropyLoss
// semantics) and its gradient.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cmath>

namespace pgc::cpu {
namespace {

// Checks shapes and labels; returns the labels and how many of them count.
std::vector<int64_t> checkLabels(const Tensor &logits, const Tensor &labels,
                                 int64_t ignoreIndex, const char *op,
                                 int64_t &counted) {
  requireFloat(logits, op, "logits");
  if (logits.rank() < 1)
    fail("{}: logits must have rank >= 1, got a scalar", op);
  Shape rowShape(logits.shape().begin(), logits.shape().end() - 1);
  requireShape(labels, rowShape, op, "labels");
  std::vector<int64_t> values = readIndices(labels, op, "labels");
  int64_t vocab = logits.dim(-1);
  counted = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] == ignoreIndex)
      continue;
    if (values[i] < 0 || values[i] >= vocab)
      fail("{}: label {} at position {} is outside [0, {}) and is not the "
           "ignore index {}",
           op, values[i], i, vocab, ignoreIndex);
    ++counted;
  }
  return values;
}

template <typename Acc> Acc logSumExp(const Acc *row, int64_t vocab) {
  Acc maximum = -INFINITY;
  for (int64_t c = 0; c < vocab; ++c)
    maximum = std::fmax(maximum, row[c]);
  Acc total = 0;
  for (int64_t c = 0; c < vocab; ++c)
    total += std::exp(row[c] - maximum);
  return maximum + std::log(total);
}

template <typename Acc>
void crossEntropyTyped(const Tensor &logits, const std::vector<int64_t> &labels,
                       int64_t ignoreIndex, int64_t counted, Tensor &out) {
  FloatInput<Acc> fx(logits, "cross_entropy", "logits");
  int64_t vocab = logits.dim(-1), rows = static_cast<int64_t>(labels.size());
  std::vector<Acc> rowLoss(labels.size(), Acc(0));
  parallelFor(rows, grainFor(vocab * 2), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (labels[r] == ignoreIndex)
        continue;
      const Acc *row = fx.data() + r * vocab;
      rowLoss[r] = logSumExp(row, vocab) - row[labels[r]];
    }
  });
  Acc total = 0;
  for (int64_t r = 0; r < rows; ++r)
    total += rowLoss[r];
  // No counted label: 0 rather than PyTorch's 0/0 = NaN, so that a batch of
  // pure padding does not poison a training run.
  Acc mean = counted ? total / static_cast<Acc>(counted) : Acc(0);
  writeFloatFromDouble(out, 0, static_cast<double>(mean));
}

template <typename Acc>
void crossEntropyGradTyped(const Tensor &logits,
                           const std::vector<int64_t> &labels,
                           int64_t ignoreIndex, int64_t counted, Acc dloss,
                           Tensor &dlogits) {
  FloatInput<Acc> fx(logits, "cross_entropy_grad", "logits");
  FloatOutput<Acc> fdx(dlogits, "cross_entropy_grad", "dlogits");
  int64_t vocab = logits.dim(-1), rows = static_cast<int64_t>(labels.size());
  Acc perRow = counted ? dloss / static_cast<Acc>(counted) : Acc(0);
  parallelFor(rows, grainFor(vocab * 3), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      Acc *grad = fdx.data() + r * vocab;
      if (labels[r] == ignoreIndex) {
        std::fill(grad, grad + vocab, Acc(0));
        continue;
      }
      const Acc *row = fx.data() + r * vocab;
      Acc lse = logSumExp(row, vocab);
      for (int64_t c = 0; c < vocab; ++c)
        grad[c] = std::exp(row[c] - lse) * perRow;
      grad[labels[r]] -= perRow;
    }
  });
  fdx.commit();
}

} // namespace

void crossEntropy(const Tensor &logits, const Tensor &labels,
                  int64_t ignoreIndex, Tensor &out) {
  int64_t counted = 0;
  std::vector<int64_t> values =
      checkLabels(logits, labels, ignoreIndex, "cross_entropy", counted);
  bool f64 = logits.dtype() == DType::F64;
  requireDType(out, f64 ? DType::F64 : DType::F32, "cross_entropy", "result");
  requireShape(out, {}, "cross_entropy", "result");
  if (f64)
    return crossEntropyTyped<double>(logits, values, ignoreIndex, counted, out);
  crossEntropyTyped<float>(logits, values, ignoreIndex, counted, out);
}

void crossEntropyGrad(const Tensor &logits, const Tensor &labels,
                      int64_t ignoreIndex, const Tensor &dloss,
                      Tensor &dlogits) {
  int64_t counted = 0;
  std::vector<int64_t> values =
      checkLabels(logits, labels, ignoreIndex, "cross_entropy_grad", counted);
  requireShape(dloss, {}, "cross_entropy_grad", "dloss");
  requireFloat(dloss, "cross_entropy_grad", "dloss");
  requireShape(dlogits, logits.shape(), "cross_entropy_grad", "dlogits");
  double upstream = readFloatAsDouble(dloss, 0);
  if (anyF64({logits.dtype(), dloss.dtype(), dlogits.dtype()}))
    return crossEntropyGradTyped<double>(logits, values, ignoreIndex, counted,
                                         upstream, dlogits);
  crossEntropyGradTyped<float>(logits, values, ignoreIndex, counted,
                               static_cast<float>(upstream), dlogits);
}

} // namespace pgc::cpu
