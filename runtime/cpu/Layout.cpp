// Data movement kernels: reshape, transpose, broadcast, slice and concat
// (dtype-agnostic byte copies).
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cstring>

namespace pgc::cpu {
namespace {

// out[index] = x[sourceOffset + sum over d of index[d] * sourceStrides[d]],
// for every multi-index of out's shape; strides may be 0 (broadcast).
void stridedCopy(const Tensor &x, int64_t sourceOffset,
                 const std::vector<int64_t> &sourceStrides, Tensor &out) {
  size_t width = dtypeSize(x.dtype());
  const char *src = static_cast<const char *>(x.raw());
  char *dst = static_cast<char *>(out.raw());
  const Shape &shape = out.shape();
  int64_t rank = out.rank();
  parallelFor(out.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t remainder = i, offset = sourceOffset;
      for (int64_t d = rank - 1; d >= 0; --d) {
        offset += (remainder % shape[d]) * sourceStrides[d];
        remainder /= shape[d];
      }
      std::memcpy(dst + i * width, src + offset * width, width);
    }
  });
}

void requireSameDType(const Tensor &x, const Tensor &out, const char *op) {
  requireDType(out, x.dtype(), op, "result");
}

} // namespace

void reshape(const Tensor &x, Tensor &out) {
  requireSameDType(x, out, "reshape");
  if (x.numel() != out.numel())
    fail("reshape: cannot reshape {} ({} elements) to {} ({} elements)",
         formatShape(x.shape()), x.numel(), formatShape(out.shape()),
         out.numel());
  if (x.byteSize())
    std::memcpy(out.raw(), x.raw(), x.byteSize());
}

void transpose(const Tensor &x, const std::vector<int64_t> &perm, Tensor &out) {
  requireSameDType(x, out, "transpose");
  if (static_cast<int64_t>(perm.size()) != x.rank())
    fail("transpose: permutation has {} entries for an operand of rank {}",
         perm.size(), x.rank());
  std::vector<bool> seen(perm.size(), false);
  Shape expected;
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape()), sourceStrides;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p])
      fail("transpose: {} is not a permutation of 0..{}", formatShape(perm),
           x.rank() - 1);
    seen[p] = true;
    expected.push_back(x.dim(p));
    sourceStrides.push_back(xStrides[p]);
  }
  requireShape(out, expected, "transpose", "result");
  stridedCopy(x, 0, sourceStrides, out);
}

void broadcast(const Tensor &x, Tensor &out) {
  requireSameDType(x, out, "broadcast");
  int64_t lead = out.rank() - x.rank();
  if (lead < 0)
    fail("broadcast: cannot broadcast {} to the lower rank {}",
         formatShape(x.shape()), formatShape(out.shape()));
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape());
  std::vector<int64_t> sourceStrides(out.rank(), 0);
  for (int64_t d = 0; d < x.rank(); ++d) {
    int64_t target = out.dim(lead + d);
    if (x.dim(d) == target)
      sourceStrides[lead + d] = xStrides[d];
    else if (x.dim(d) != 1)
      fail("broadcast: cannot broadcast {} to {} (dim {} is {}, not 1 or {})",
           formatShape(x.shape()), formatShape(out.shape()), d, x.dim(d),
           target);
  }
  stridedCopy(x, 0, sourceStrides, out);
}

void slice(const Tensor &x, const std::vector<int64_t> &start,
           const std::vector<int64_t> &limit,
           const std::vector<int64_t> &stride, Tensor &out) {
  requireSameDType(x, out, "slice");
  size_t rank = static_cast<size_t>(x.rank());
  if (start.size() != rank || limit.size() != rank || stride.size() != rank)
    fail("slice: start/limit/stride need {} entries each for operand {}", rank,
         formatShape(x.shape()));
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape()), sourceStrides;
  Shape expected;
  int64_t offset = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (stride[d] < 1 || start[d] < 0 || limit[d] < start[d] ||
        limit[d] > x.dim(d))
      fail("slice: dim {} of {}: start {}, limit {}, stride {} is not a "
           "valid range",
           d, formatShape(x.shape()), start[d], limit[d], stride[d]);
    expected.push_back((limit[d] - start[d] + stride[d] - 1) / stride[d]);
    sourceStrides.push_back(xStrides[d] * stride[d]);
    offset += start[d] * xStrides[d];
  }
  requireShape(out, expected, "slice", "result");
  stridedCopy(x, offset, sourceStrides, out);
}

void concat(const std::vector<Tensor> &inputs, int64_t axis, Tensor &out) {
  if (inputs.empty())
    fail("concat: needs at least one input");
  int64_t a = normalizeAxis(axis, out.rank(), "concat");
  Shape expected = inputs[0].shape();
  expected[a] = 0;
  for (size_t n = 0; n < inputs.size(); ++n) {
    const Tensor &in = inputs[n];
    requireDType(in, out.dtype(), "concat", "an input");
    Shape withoutAxis = in.shape();
    if (in.rank() != out.rank())
      fail("concat: input {} has shape {}, rank differs from result {}", n,
           formatShape(in.shape()), formatShape(out.shape()));
    withoutAxis[a] = 0;
    Shape reference = expected;
    reference[a] = 0;
    if (withoutAxis != reference)
      fail("concat: input {} has shape {}, incompatible with input 0 {} "
           "along axis {}",
           n, formatShape(in.shape()), formatShape(inputs[0].shape()), a);
    expected[a] += in.dim(a);
  }
  requireShape(out, expected, "concat", "result");
  // Each input contributes one contiguous block of dim(a) * inner elements
  // per outer index.
  size_t width = dtypeSize(out.dtype());
  int64_t inner = rowMajorStrides(out.shape())[a];
  int64_t outer = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= out.dim(d);
  char *dst = static_cast<char *>(out.raw());
  int64_t outRow = out.dim(a) * inner;
  int64_t placed = 0;
  for (const Tensor &in : inputs) {
    int64_t block = in.dim(a) * inner;
    const char *src = static_cast<const char *>(in.raw());
    for (int64_t o = 0; o < outer; ++o)
      if (block)
        std::memcpy(dst + (o * outRow + placed) * width,
                    src + o * block * width, block * width);
    placed += block;
  }
}

} // namespace pgc::cpu
