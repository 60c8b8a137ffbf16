// The layout kernels on the GPU (transpose, broadcast and slice as one
// strided copy; concat; iota; reshape as a device copy), byte for byte the
// CPU kernels of runtime/cpu/Layout.cpp and Cast.cpp's iota.
#include "runtime/cuda/kernels/Layout.h"
#include "runtime/cuda/kernels/DeviceRounding.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <limits>
#include <string>

namespace pgc::cuda {
namespace {

// Layout ops only move bytes, so their kernels are typed by the width of a
// unit (1, 2, 4, 8 or 16 bytes), not by dtype: a copy of an unsigned integer
// (or uint4) keeps every bit, NaN payloads included. Every index is computed
// in unsigned 32-bit arithmetic when the copy and its source fit (divisions
// are several times cheaper), else in 64-bit (the _64 kernels).
//
// iota converts the index to out's dtype exactly as writeFromInteger in
// runtime/cpu/Cast.cpp: C conversions for ints and f32/f64 (round to nearest
// even on both sides), and for bf16/f16 one rounding through a round-to-odd
// f32 (__ll2float_rz plus a sticky bit) and then the host's own bit
// arithmetic of f32ToBf16 / f32ToF16 (runtime/support/DType.h), copied here.
const char *const kSource = R"CUDA(
struct StridedCopyParams {
  long long extents[8];
  long long strides[8];
  long long sourceOffset;
  long long count;
  int rank;
  int unused;
};

template <typename T, typename I>
__device__ __forceinline__ void stridedCopy(const T *__restrict__ src,
                                            T *__restrict__ dst,
                                            const StridedCopyParams &p) {
  I count = (I)p.count;
  I step = (I)gridDim.x * blockDim.x;
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += step) {
    I rest = i, offset = (I)p.sourceOffset;
    for (int d = p.rank - 1; d > 0; --d) {
      I extent = (I)p.extents[d];
      I quotient = rest / extent;
      offset += (rest - quotient * extent) * (I)p.strides[d];
      rest = quotient;
    }
    dst[i] = src[offset + rest * (I)p.strides[0]];
  }
}

// Input block o (of `block` units) goes to units [o * outRow + placed,
// + block) of the result.
template <typename T>
__device__ __forceinline__ void concatPart(const T *__restrict__ src,
                                           T *__restrict__ dst,
                                           long long outer, long long block,
                                           long long outRow,
                                           long long placed) {
  long long total = outer * block;
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       e < total; e += step) {
    long long o = e / block;
    dst[o * outRow + placed + (e - o * block)] = src[e];
  }
}

#define PGC_UNIT_KERNELS(W, T)                                                 \
  extern "C" __global__ void pgc_strided_copy_w##W(                            \
      const T *src, T *dst, const StridedCopyParams p) {                       \
    stridedCopy<T, unsigned int>(src, dst, p);                                 \
  }                                                                            \
  extern "C" __global__ void pgc_strided_copy_w##W##_64(                       \
      const T *src, T *dst, const StridedCopyParams p) {                       \
    stridedCopy<T, unsigned long long>(src, dst, p);                           \
  }                                                                            \
  extern "C" __global__ void pgc_concat_part_w##W(                             \
      const T *src, T *dst, long long outer, long long block,                  \
      long long outRow, long long placed) {                                    \
    concatPart<T>(src, dst, outer, block, outRow, placed);                     \
  }

PGC_UNIT_KERNELS(1, unsigned char)
PGC_UNIT_KERNELS(2, unsigned short)
PGC_UNIT_KERNELS(4, unsigned int)
PGC_UNIT_KERNELS(8, unsigned long long)
PGC_UNIT_KERNELS(16, uint4)


// The integer rounded toward zero to f32 with the lowest bit set when that
// was inexact: rounding it again to bf16/f16 rounds the integer once.
__device__ __forceinline__ float roundToOddFloat(long long value) {
  float truncated = __ll2float_rz(value);
  if ((long long)truncated != value)
    truncated = __uint_as_float(__float_as_uint(truncated) | 1u);
  return truncated;
}

#define PGC_IOTA(NAME, T, CONVERT)                                             \
  extern "C" __global__ void pgc_iota_##NAME(T *out, long long count,          \
                                             long long inner,                  \
                                             long long extent) {               \
    long long step = (long long)gridDim.x * blockDim.x;                        \
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;       \
         e < count; e += step) {                                               \
      long long v = (e / inner) % extent;                                      \
      out[e] = CONVERT;                                                        \
    }                                                                          \
  }

PGC_IOTA(bf16, unsigned short, f32ToBf16(roundToOddFloat(v)))
PGC_IOTA(f16, unsigned short, f32ToF16(roundToOddFloat(v)))
PGC_IOTA(f32, float, (float)v)
PGC_IOTA(f64, double, (double)v)
PGC_IOTA(i32, int, (int)v)
PGC_IOTA(i64, long long, v)
PGC_IOTA(u8, unsigned char, (unsigned char)v)
PGC_IOTA(i1, unsigned char, (unsigned char)(v != 0))
)CUDA";

// The kernel's parameter struct, field for field (long long is int64_t).
struct StridedCopyParams {
  int64_t extents[kMaxLayoutRank];
  int64_t strides[kMaxLayoutRank];
  int64_t sourceOffset;
  int64_t count;
  int32_t rank;
  int32_t unused;
};
static_assert(sizeof(StridedCopyParams) == 8 * (2 * kMaxLayoutRank + 3),
              "the kernel's StridedCopyParams layout");

std::vector<int64_t> rowMajorStrides(const Shape &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

void requireSameDType(const DeviceTensor &x, const DeviceTensor &out,
                      const char *op) {
  detail::requireDType(out, x.dtype, op, "result");
}

int64_t normalizeAxis(int64_t axis, int64_t rank, const char *op) {
  if (axis < -rank || axis >= rank)
    fail("{}: axis {} is out of range for rank {}", op, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

// out[index] = x[sourceOffset + sum_d index[d] * sourceStrides[d]]: the
// CPU's stridedCopy dim merging, then the widest aligned unit.
StridedCopyPlan planStrided(const DeviceTensor &x, int64_t sourceOffset,
                            const std::vector<int64_t> &sourceStrides,
                            const DeviceTensor &out, const char *op) {
  StridedCopyPlan plan;
  plan.source = x.address;
  plan.destination = out.address;
  plan.unitBytes = static_cast<int64_t>(dtypeSize(x.dtype));
  plan.sourceOffset = sourceOffset;
  plan.sourceUnits = x.numel();
  if (out.numel() == 0)
    return plan;
  for (int64_t d = 0; d < out.rank(); ++d) {
    if (out.dim(d) == 1)
      continue;
    if (!plan.extents.empty() &&
        plan.strides.back() == sourceStrides[d] * out.dim(d)) {
      plan.extents.back() *= out.dim(d);
      plan.strides.back() = sourceStrides[d];
      continue;
    }
    plan.extents.push_back(out.dim(d));
    plan.strides.push_back(sourceStrides[d]);
  }
  if (plan.extents.empty()) {
    plan.extents.push_back(1);
    plan.strides.push_back(0);
  }
  if (plan.extents.size() > static_cast<size_t>(kMaxLayoutRank))
    fail("{}: result {} needs {} dims after merging, more than the GPU "
         "kernel's {}",
         op, formatShape(out.shape), plan.extents.size(), kMaxLayoutRank);
  // A contiguous innermost run of k elements becomes one unit of k * width
  // bytes when every run starts at a multiple of k, both buffers are aligned
  // to the unit, and the run's length is a multiple of k.
  if (plan.strides.back() != 1)
    return plan;
  for (int64_t target : {16, 8, 4, 2}) {
    if (target <= plan.unitBytes || target % plan.unitBytes)
      continue;
    int64_t k = target / plan.unitBytes;
    bool fits = plan.extents.back() % k == 0 && plan.sourceOffset % k == 0 &&
                plan.source % target == 0 && plan.destination % target == 0;
    for (size_t d = 0; d + 1 < plan.strides.size(); ++d)
      fits = fits && plan.strides[d] % k == 0;
    if (!fits)
      continue;
    plan.extents.back() /= k;
    for (size_t d = 0; d + 1 < plan.strides.size(); ++d)
      plan.strides[d] /= k;
    plan.sourceOffset /= k;
    plan.sourceUnits = (plan.sourceUnits + k - 1) / k;
    plan.unitBytes = target;
    break;
  }
  return plan;
}

} // namespace

int64_t StridedCopyPlan::count() const {
  if (extents.empty())
    return 0;
  int64_t total = 1;
  for (int64_t e : extents)
    total *= e;
  return total;
}

namespace detail {

LaunchShape layoutGrid(const Stream &stream, int64_t count) {
  const int64_t threads = 256;
  int64_t cap = int64_t(stream.context().info().multiprocessors) * 32;
  LaunchShape shape;
  shape.blockX = static_cast<unsigned>(threads);
  shape.gridX = static_cast<unsigned>(
      std::max<int64_t>(1, std::min<int64_t>((count + threads - 1) / threads,
                                             std::max<int64_t>(1, cap))));
  return shape;
}

void requireShape(const DeviceTensor &t, const Shape &expected, const char *op,
                  const char *name) {
  if (t.shape != expected)
    fail("{}: {} has shape {}, expected {}", op, name, formatShape(t.shape),
         formatShape(expected));
}

void requireDType(const DeviceTensor &t, DType expected, const char *op,
                  const char *name) {
  if (t.dtype != expected)
    fail("{}: {} has dtype {}, expected {}", op, name, dtypeName(t.dtype),
         dtypeName(expected));
}

int64_t widestUnit(std::initializer_list<uint64_t> values) {
  for (uint64_t unit : {16u, 8u, 4u, 2u})
    if (std::all_of(values.begin(), values.end(),
                    [&](uint64_t v) { return v % unit == 0; }))
      return static_cast<int64_t>(unit);
  return 1;
}

} // namespace detail

const KernelSource &layoutSource() {
  static const KernelSource source{
      "layout.cu", std::string(deviceFloatRoundingSource()) + kSource, {}};
  return source;
}

StridedCopyPlan planTranspose(const DeviceTensor &x,
                              const std::vector<int64_t> &perm,
                              const DeviceTensor &out) {
  requireSameDType(x, out, "transpose");
  if (static_cast<int64_t>(perm.size()) != x.rank())
    fail("transpose: permutation has {} entries for an operand of rank {}",
         perm.size(), x.rank());
  std::vector<bool> seen(perm.size(), false);
  Shape expected;
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape), sourceStrides;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p])
      fail("transpose: {} is not a permutation of 0..{}", formatShape(perm),
           x.rank() - 1);
    seen[p] = true;
    expected.push_back(x.dim(p));
    sourceStrides.push_back(xStrides[p]);
  }
  detail::requireShape(out, expected, "transpose", "result");
  return planStrided(x, 0, sourceStrides, out, "transpose");
}

StridedCopyPlan planBroadcast(const DeviceTensor &x, const DeviceTensor &out) {
  requireSameDType(x, out, "broadcast");
  int64_t lead = out.rank() - x.rank();
  if (lead < 0)
    fail("broadcast: cannot broadcast {} to the lower rank {}",
         formatShape(x.shape), formatShape(out.shape));
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape);
  std::vector<int64_t> sourceStrides(out.rank(), 0);
  for (int64_t d = 0; d < x.rank(); ++d) {
    int64_t target = out.dim(lead + d);
    if (x.dim(d) == target)
      sourceStrides[lead + d] = xStrides[d];
    else if (x.dim(d) != 1)
      fail("broadcast: cannot broadcast {} to {} (dim {} is {}, not 1 or {})",
           formatShape(x.shape), formatShape(out.shape), d, x.dim(d), target);
  }
  return planStrided(x, 0, sourceStrides, out, "broadcast");
}

StridedCopyPlan planSlice(const DeviceTensor &x,
                          const std::vector<int64_t> &start,
                          const std::vector<int64_t> &limit,
                          const std::vector<int64_t> &stride,
                          const DeviceTensor &out) {
  requireSameDType(x, out, "slice");
  size_t rank = static_cast<size_t>(x.rank());
  if (start.size() != rank || limit.size() != rank || stride.size() != rank)
    fail("slice: start/limit/stride need {} entries each for operand {}", rank,
         formatShape(x.shape));
  std::vector<int64_t> xStrides = rowMajorStrides(x.shape), sourceStrides;
  Shape expected;
  int64_t offset = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (stride[d] < 1 || start[d] < 0 || limit[d] < start[d] ||
        limit[d] > x.dim(d))
      fail("slice: dim {} of {}: start {}, limit {}, stride {} is not a "
           "valid range",
           d, formatShape(x.shape), start[d], limit[d], stride[d]);
    expected.push_back((limit[d] - start[d] + stride[d] - 1) / stride[d]);
    sourceStrides.push_back(xStrides[d] * stride[d]);
    offset += start[d] * xStrides[d];
  }
  detail::requireShape(out, expected, "slice", "result");
  return planStrided(x, offset, sourceStrides, out, "slice");
}

void launchStridedCopy(const Module &layout, const Stream &stream,
                       const StridedCopyPlan &plan, const char *op) {
  int64_t count = plan.count();
  if (count == 0)
    return;
  if (plan.extents.size() != plan.strides.size() ||
      plan.extents.size() > static_cast<size_t>(kMaxLayoutRank))
    fail("{}: a strided copy of {} dims, the GPU kernel takes 1 to {}", op,
         plan.extents.size(), kMaxLayoutRank);
  StridedCopyParams params{};
  params.rank = static_cast<int32_t>(plan.extents.size());
  for (size_t d = 0; d < plan.extents.size(); ++d) {
    params.extents[d] = plan.extents[d];
    params.strides[d] = plan.strides[d];
  }
  params.sourceOffset = plan.sourceOffset;
  params.count = count;
  const int64_t small = std::numeric_limits<int32_t>::max();
  std::string name = "pgc_strided_copy_w" + std::to_string(plan.unitBytes);
  if (count > small || plan.sourceUnits > small)
    name += "_64";
  api::CUdeviceptr source = plan.source, destination = plan.destination;
  void *arguments[] = {&source, &destination, &params};
  launchKernel(stream, layout.function(name.c_str()),
               detail::layoutGrid(stream, count), arguments, op);
}

void validateReshape(const DeviceTensor &x, const DeviceTensor &out) {
  requireSameDType(x, out, "reshape");
  if (x.numel() != out.numel())
    fail("reshape: cannot reshape {} ({} elements) to {} ({} elements)",
         formatShape(x.shape), x.numel(), formatShape(out.shape), out.numel());
}

void launchReshape(const Stream &stream, const DeviceTensor &x,
                   const DeviceTensor &out) {
  validateReshape(x, out);
  if (x.bytes() && out.address != x.address)
    copyDeviceToDevice(stream, out.address, x.address, x.bytes());
}

void launchTranspose(const Module &layout, const Stream &stream,
                     const DeviceTensor &x, const std::vector<int64_t> &perm,
                     const DeviceTensor &out) {
  launchStridedCopy(layout, stream, planTranspose(x, perm, out), "transpose");
}

void launchBroadcast(const Module &layout, const Stream &stream,
                     const DeviceTensor &x, const DeviceTensor &out) {
  launchStridedCopy(layout, stream, planBroadcast(x, out), "broadcast");
}

void launchSlice(const Module &layout, const Stream &stream,
                 const DeviceTensor &x, const std::vector<int64_t> &start,
                 const std::vector<int64_t> &limit,
                 const std::vector<int64_t> &stride, const DeviceTensor &out) {
  launchStridedCopy(layout, stream, planSlice(x, start, limit, stride, out),
                    "slice");
}

void validateConcat(const std::vector<DeviceTensor> &inputs, int64_t axis,
                    const DeviceTensor &out) {
  if (inputs.empty())
    fail("concat: needs at least one input");
  int64_t a = normalizeAxis(axis, out.rank(), "concat");
  Shape expected;
  for (size_t n = 0; n < inputs.size(); ++n) {
    const DeviceTensor &in = inputs[n];
    detail::requireDType(in, out.dtype, "concat", "an input");
    if (in.rank() != out.rank())
      fail("concat: input {} has shape {}, rank differs from result {}", n,
           formatShape(in.shape), formatShape(out.shape));
    if (n == 0) {
      expected = in.shape;
      expected[a] = 0;
    }
    Shape withoutAxis = in.shape, reference = expected;
    withoutAxis[a] = 0;
    reference[a] = 0;
    if (withoutAxis != reference)
      fail("concat: input {} has shape {}, incompatible with input 0 {} "
           "along axis {}",
           n, formatShape(in.shape), formatShape(inputs[0].shape), a);
    expected[a] += in.dim(a);
  }
  detail::requireShape(out, expected, "concat", "result");
}

void launchConcat(const Module &layout, const Stream &stream,
                  const std::vector<DeviceTensor> &inputs, int64_t axis,
                  const DeviceTensor &out) {
  validateConcat(inputs, axis, out);
  int64_t a = axis < 0 ? axis + out.rank() : axis;
  // As on the CPU: each input contributes one contiguous block of
  // dim(a) * inner elements per outer index.
  int64_t width = static_cast<int64_t>(dtypeSize(out.dtype));
  int64_t inner = rowMajorStrides(out.shape)[a];
  int64_t outer = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= out.dim(d);
  int64_t outRow = out.dim(a) * inner;
  int64_t placed = 0;
  for (const DeviceTensor &in : inputs) {
    int64_t block = in.dim(a) * inner;
    if (outer * block > 0) {
      int64_t unit = detail::widestUnit({static_cast<uint64_t>(block * width),
                                         static_cast<uint64_t>(outRow * width),
                                         static_cast<uint64_t>(placed * width),
                                         in.address, out.address});
      // Counted in units, which need not be whole elements.
      long long blockUnits = block * width / unit,
                rowUnits = outRow * width / unit,
                placedUnits = placed * width / unit, outerCount = outer;
      api::CUdeviceptr source = in.address, destination = out.address;
      void *arguments[] = {&source,     &destination, &outerCount,
                           &blockUnits, &rowUnits,    &placedUnits};
      std::string name = "pgc_concat_part_w" + std::to_string(unit);
      launchKernel(stream, layout.function(name.c_str()),
                   detail::layoutGrid(stream, outer * blockUnits), arguments,
                   "concat");
    }
    placed += block;
  }
}

void validateIota(int64_t dim, const DeviceTensor &out) {
  normalizeAxis(dim, out.rank(), "iota");
}

void launchIota(const Module &layout, const Stream &stream, int64_t dim,
                const DeviceTensor &out) {
  int64_t axis = normalizeAxis(dim, out.rank(), "iota");
  long long count = out.numel();
  if (count == 0)
    return;
  long long extent = out.dim(axis);
  long long inner = rowMajorStrides(out.shape)[axis];
  api::CUdeviceptr destination = out.address;
  void *arguments[] = {&destination, &count, &inner, &extent};
  std::string name = "pgc_iota_" + std::string(dtypeName(out.dtype));
  launchKernel(stream, layout.function(name.c_str()),
               detail::layoutGrid(stream, count), arguments, "iota");
}

} // namespace pgc::cuda
