// Data movement kernels: reshape, transpose, broadcast, slice and concat
// (dtype-agnostic byte copies).
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cstring>

namespace pgc::cpu {
namespace {

// Copies `count` elements of `width` bytes from a source `stride` elements
// apart to consecutive places; the widths of the dtypes get a typed loop.
template <typename T>
void copyStridedRun(char *dst, const char *src, int64_t count, int64_t stride) {
  T *d = reinterpret_cast<T *>(dst);
  const T *s = reinterpret_cast<const T *>(src);
  for (int64_t i = 0; i < count; ++i)
    d[i] = s[i * stride];
}

void copyRun(char *dst, const char *src, int64_t count, int64_t stride,
             size_t width) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(count) * width);
    return;
  }
  switch (width) {
  case 1:
    return copyStridedRun<uint8_t>(dst, src, count, stride);
  case 2:
    return copyStridedRun<uint16_t>(dst, src, count, stride);
  case 4:
    return copyStridedRun<uint32_t>(dst, src, count, stride);
  case 8:
    return copyStridedRun<uint64_t>(dst, src, count, stride);
  default:
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(dst + i * width, src + i * stride * width, width);
  }
}

// out[index] = x[sourceOffset + sum over d of index[d] * sourceStrides[d]],
// for every multi-index of out's shape; strides may be 0 (broadcast).
//
// Dims of size 1 are dropped and neighbours that are contiguous in the
// source too are merged, so that the innermost dim is as long as possible;
// each row of it is one memcpy (source stride 1), a fill (stride 0) or a
// strided typed loop, and rows are walked with an odometer instead of a
// division per element.
void stridedCopy(const Tensor &x, int64_t sourceOffset,
                 const std::vector<int64_t> &sourceStrides, Tensor &out) {
  if (out.numel() == 0)
    return;
  size_t width = dtypeSize(x.dtype());
  std::vector<int64_t> extents, strides;
  for (int64_t d = 0; d < out.rank(); ++d) {
    if (out.dim(d) == 1)
      continue;
    if (!extents.empty() && strides.back() == sourceStrides[d] * out.dim(d)) {
      extents.back() *= out.dim(d);
      strides.back() = sourceStrides[d];
      continue;
    }
    extents.push_back(out.dim(d));
    strides.push_back(sourceStrides[d]);
  }
  if (extents.empty()) {
    extents.push_back(1);
    strides.push_back(0);
  }
  int64_t rank = static_cast<int64_t>(extents.size());
  int64_t inner = extents.back(), innerStride = strides.back();
  int64_t rows = out.numel() / inner;
  const char *src = static_cast<const char *>(x.raw()) + sourceOffset * width;
  char *dst = static_cast<char *>(out.raw());
  parallelFor(rows, grainFor(inner, 1 << 14), [&](int64_t begin, int64_t end) {
    // The multi-index of row `begin` over the outer dims, then an odometer.
    std::vector<int64_t> index(static_cast<size_t>(rank), 0);
    int64_t offset = 0;
    for (int64_t d = rank - 2, remainder = begin; d >= 0; --d) {
      index[d] = remainder % extents[d];
      remainder /= extents[d];
      offset += index[d] * strides[d];
    }
    for (int64_t row = begin; row < end; ++row) {
      char *rowDst = dst + row * inner * width;
      const char *rowSrc = src + offset * width;
      if (innerStride == 0 && width == 4) {
        uint32_t value;
        std::memcpy(&value, rowSrc, 4);
        uint32_t *d = reinterpret_cast<uint32_t *>(rowDst);
        std::fill(d, d + inner, value);
      } else {
        copyRun(rowDst, rowSrc, inner, innerStride, width);
      }
      for (int64_t d = rank - 2; d >= 0; --d) {
        offset += strides[d];
        if (++index[d] < extents[d])
          break;
        offset -= index[d] * strides[d];
        index[d] = 0;
      }
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
  // The executor may give a reshape its operand's own bytes (ArenaPlan.h).
  if (x.byteSize() && out.raw() != x.raw())
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
