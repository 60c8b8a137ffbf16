// reduce_sum/max/mean and cumsum on the GPU, plus the device prelude and host
// checks the softmax and norm kernels share.
#include "runtime/cuda/kernels/Reduce.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <climits>
#include <string>

namespace pgc::cuda {
namespace {

// Loads and stores take the dtype as a kernel argument (a uniform branch), so
// one compiled kernel per compute type serves every mix of operand dtypes the
// CPU accepts. Codes are DType's values: bf16 0, f16 1, f32 2, f64 3.
// Arithmetic goes through the _rn intrinsics, which the compiler never fuses
// into an FMA: each operation rounds exactly as the CPU's does.
const char *const kPrelude = R"CUDA(
typedef unsigned short pgc_u16;

__device__ __forceinline__ float pgcBf16ToFloat(pgc_u16 b) {
  return __uint_as_float(((unsigned)b) << 16);
}
__device__ __forceinline__ float pgcF16ToFloat(pgc_u16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ pgc_u16 pgcFloatToBf16(float f) {
  pgc_u16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
__device__ __forceinline__ pgc_u16 pgcFloatToF16(float f) {
  pgc_u16 r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
// f64 -> bf16/f16 as the CPU does it (runtime/cpu/FloatAccess.cpp): round to
// odd f32 first, so that the final round-to-nearest-even is the only one.
__device__ __forceinline__ float pgcRoundToOddFloat(double d) {
  float f = __double2float_rz(d);
  if ((double)f != d && d == d)
    f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}

template <typename Acc>
__device__ __forceinline__ Acc pgcLoad(const void *p, int type, long long i) {
  switch (type) {
  case 0:
    return (Acc)pgcBf16ToFloat(((const pgc_u16 *)p)[i]);
  case 1:
    return (Acc)pgcF16ToFloat(((const pgc_u16 *)p)[i]);
  case 2:
    return (Acc)((const float *)p)[i];
  default:
    return (Acc)((const double *)p)[i];
  }
}

__device__ __forceinline__ void pgcStore(void *p, int type, long long i,
                                         float v) {
  switch (type) {
  case 0:
    ((pgc_u16 *)p)[i] = pgcFloatToBf16(v);
    break;
  case 1:
    ((pgc_u16 *)p)[i] = pgcFloatToF16(v);
    break;
  case 2:
    ((float *)p)[i] = v;
    break;
  default:
    ((double *)p)[i] = (double)v;
  }
}
__device__ __forceinline__ void pgcStore(void *p, int type, long long i,
                                         double v) {
  switch (type) {
  case 0:
    ((pgc_u16 *)p)[i] = pgcFloatToBf16(pgcRoundToOddFloat(v));
    break;
  case 1:
    ((pgc_u16 *)p)[i] = pgcFloatToF16(pgcRoundToOddFloat(v));
    break;
  case 2:
    ((float *)p)[i] = __double2float_rn(v);
    break;
  default:
    ((double *)p)[i] = v;
  }
}

__device__ __forceinline__ float pgcAdd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double pgcAdd(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ unsigned pgcAdd(unsigned a, unsigned b) { return a + b; }
__device__ __forceinline__ unsigned long long pgcAdd(unsigned long long a,
                                                     unsigned long long b) {
  return a + b;
}
__device__ __forceinline__ float pgcSub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double pgcSub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float pgcMul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double pgcMul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float pgcDiv(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double pgcDiv(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float pgcSqrt(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double pgcSqrt(double a) { return __dsqrt_rn(a); }
__device__ __forceinline__ float pgcExp(float a) { return expf(a); }
__device__ __forceinline__ double pgcExp(double a) { return exp(a); }
__device__ __forceinline__ float pgcFmax(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double pgcFmax(double a, double b) { return fmax(a, b); }
template <typename Acc> __device__ __forceinline__ Acc pgcNegInf();
template <> __device__ __forceinline__ float pgcNegInf<float>() {
  return __int_as_float(0xff800000);
}
template <> __device__ __forceinline__ double pgcNegInf<double>() {
  return __longlong_as_double(0xfff0000000000000ll);
}

struct PgcSum {
  template <typename T> __device__ T operator()(T a, T b) const {
    return pgcAdd(a, b);
  }
};
struct PgcFmax {
  template <typename T> __device__ T operator()(T a, T b) const {
    return pgcFmax(a, b);
  }
};
struct PgcIntMax {
  template <typename T> __device__ T operator()(T a, T b) const {
    return a > b ? a : b;
  }
};

// Combines one value per thread in a fixed order: a butterfly within each
// warp, then the same over the warps' results (padded with `identity`).
// Every lane of every warp ends with the same bits (the combines are
// commutative), so the result depends only on blockDim, never on timing.
// blockDim.x is a multiple of 32, at most 1024.
template <typename T, typename F>
__device__ __forceinline__ T pgcBlockReduce(T v, T *scratch, T identity,
                                           F combine) {
  for (int o = 16; o > 0; o >>= 1)
    v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = blockDim.x >> 5;
  __syncthreads(); // the scratch may still be read by a previous call
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : identity;
  for (int o = 16; o > 0; o >>= 1)
    v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The CPU's max keeps the first NaN, else the first of the largest values
// (which matters for +0 and -0 only). Ordering candidates by (NaN first,
// value, smaller index) reproduces that choice in any combining order.
template <typename Acc>
__device__ __forceinline__ bool pgcTakes(Acc a, long long ia, Acc b,
                                         long long ib) {
  if (a != a)
    return b != b && ib < ia;
  if (b != b)
    return true;
  return b > a || (b == a && ib < ia);
}

template <typename Acc>
__device__ __forceinline__ void pgcMaxStep(Acc &v, long long &i, int offset) {
  Acc ov = __shfl_xor_sync(0xffffffffu, v, offset);
  long long oi = __shfl_xor_sync(0xffffffffu, i, offset);
  if (pgcTakes(v, i, ov, oi)) {
    v = ov;
    i = oi;
  }
}

template <typename Acc>
__device__ __forceinline__ void pgcBlockMaxIndex(Acc &v, long long &i, Acc *sv,
                                                 long long *si) {
  for (int o = 16; o > 0; o >>= 1)
    pgcMaxStep(v, i, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) {
    sv[warp] = v;
    si[warp] = i;
  }
  __syncthreads();
  v = lane < warps ? sv[lane] : pgcNegInf<Acc>();
  i = lane < warps ? si[lane] : 0x7fffffffffffffffll;
  for (int o = 16; o > 0; o >>= 1)
    pgcMaxStep(v, i, o);
}
)CUDA";

// Outputs are [outer, inner]; output o reads x[base + i * inner] for i in
// [0, extent) with base = (o / inner) * extent * inner + o % inner, the CPU's
// output order. kind: 0 sum, 1 max, 2 mean.
const char *const kReduceKernels = R"CUDA(
template <typename Acc>
__device__ void pgcReduceRows(const void *x, int xType, void *out, int outType,
                              long long outer, long long extent,
                              long long inner, int kind) {
  __shared__ Acc sv[32];
  __shared__ long long si[32];
  long long outputs = outer * inner;
  for (long long o = blockIdx.x; o < outputs; o += gridDim.x) {
    long long base = (o / inner) * extent * inner + o % inner;
    Acc result;
    if (kind == 1) {
      Acc best = pgcNegInf<Acc>();
      long long at = 0x7fffffffffffffffll;
      for (long long i = threadIdx.x; i < extent; i += blockDim.x) {
        Acc v = pgcLoad<Acc>(x, xType, base + i * inner);
        if (pgcTakes(best, at, v, i)) {
          best = v;
          at = i;
        }
      }
      pgcBlockMaxIndex(best, at, sv, si);
      result = best;
    } else {
      Acc sum = 0;
      for (long long i = threadIdx.x; i < extent; i += blockDim.x)
        sum = pgcAdd(sum, pgcLoad<Acc>(x, xType, base + i * inner));
      sum = pgcBlockReduce(sum, sv, Acc(0), PgcSum());
      result = kind == 2 ? pgcDiv(sum, (Acc)extent) : sum;
    }
    if (threadIdx.x == 0)
      pgcStore(out, outType, o, result);
  }
}

// One thread per output, in index order: the CPU's loop, bit for bit.
template <typename Acc>
__device__ void pgcReduceColumns(const void *x, int xType, void *out,
                                 int outType, long long outer,
                                 long long extent, long long inner, int kind) {
  long long outputs = outer * inner;
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       o < outputs; o += stride) {
    long long base = (o / inner) * extent * inner + o % inner;
    Acc result = kind == 1 ? pgcNegInf<Acc>() : Acc(0);
    for (long long i = 0; i < extent; ++i) {
      Acc v = pgcLoad<Acc>(x, xType, base + i * inner);
      if (kind != 1)
        result = pgcAdd(result, v);
      else if (v != v || v > result)
        result = result != result ? result : v;
    }
    if (kind == 2)
      result = pgcDiv(result, (Acc)extent);
    pgcStore(out, outType, o, result);
  }
}

// Integer sums wrap (unsigned arithmetic, associative, so any order gives the
// CPU's bits); max is exact. extent >= 1 for max (the host checks).
template <typename T, typename U>
__device__ void pgcReduceIntRows(const T *x, T *out, long long outer,
                                 long long extent, long long inner, int kind) {
  __shared__ U su[32];
  __shared__ T st[32];
  long long outputs = outer * inner;
  for (long long o = blockIdx.x; o < outputs; o += gridDim.x) {
    long long base = (o / inner) * extent * inner + o % inner;
    T result;
    if (kind == 1) {
      T best = x[base];
      for (long long i = threadIdx.x; i < extent; i += blockDim.x)
        best = PgcIntMax()(best, x[base + i * inner]);
      result = pgcBlockReduce(best, st, x[base], PgcIntMax());
    } else {
      U sum = 0;
      for (long long i = threadIdx.x; i < extent; i += blockDim.x)
        sum = pgcAdd(sum, (U)x[base + i * inner]);
      result = (T)pgcBlockReduce(sum, su, U(0), PgcSum());
    }
    if (threadIdx.x == 0)
      out[o] = result;
  }
}

template <typename T, typename U>
__device__ void pgcReduceIntColumns(const T *x, T *out, long long outer,
                                    long long extent, long long inner,
                                    int kind) {
  long long outputs = outer * inner;
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       o < outputs; o += stride) {
    long long base = (o / inner) * extent * inner + o % inner;
    if (kind == 1) {
      T best = x[base];
      for (long long i = 1; i < extent; ++i)
        best = PgcIntMax()(best, x[base + i * inner]);
      out[o] = best;
    } else {
      U sum = 0;
      for (long long i = 0; i < extent; ++i)
        sum = pgcAdd(sum, (U)x[base + i * inner]);
      out[o] = (T)sum;
    }
  }
}

// Inclusive prefix sums, one thread per line in index order: each prefix is
// the CPU's, bit for bit (a parallel scan would reassociate).
template <typename Acc>
__device__ void pgcCumsum(const void *x, int xType, void *out, int outType,
                          long long outer, long long extent, long long inner) {
  long long lines = outer * inner;
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long line = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       line < lines; line += stride) {
    long long start = (line / inner) * extent * inner + line % inner;
    Acc running = 0;
    for (long long i = 0; i < extent; ++i) {
      running = pgcAdd(running, pgcLoad<Acc>(x, xType, start + i * inner));
      pgcStore(out, outType, start + i * inner, running);
    }
  }
}

template <typename T, typename U>
__device__ void pgcCumsumInt(const T *x, T *out, long long outer,
                             long long extent, long long inner) {
  long long lines = outer * inner;
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long line = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       line < lines; line += stride) {
    long long start = (line / inner) * extent * inner + line % inner;
    U running = 0;
    for (long long i = 0; i < extent; ++i) {
      running = pgcAdd(running, (U)x[start + i * inner]);
      out[start + i * inner] = (T)running;
    }
  }
}

#define PGC_FLOAT_REDUCE(ACC)                                                  \
  extern "C" __global__ void pgc_reduce_rows_##ACC(                            \
      const void *x, int xType, void *out, int outType, long long outer,      \
      long long extent, long long inner, int kind) {                          \
    pgcReduceRows<ACC>(x, xType, out, outType, outer, extent, inner, kind);   \
  }                                                                            \
  extern "C" __global__ void pgc_reduce_columns_##ACC(                         \
      const void *x, int xType, void *out, int outType, long long outer,      \
      long long extent, long long inner, int kind) {                          \
    pgcReduceColumns<ACC>(x, xType, out, outType, outer, extent, inner,       \
                          kind);                                               \
  }                                                                            \
  extern "C" __global__ void pgc_cumsum_##ACC(const void *x, int xType,        \
                                              void *out, int outType,          \
                                              long long outer,                 \
                                              long long extent,                \
                                              long long inner) {               \
    pgcCumsum<ACC>(x, xType, out, outType, outer, extent, inner);             \
  }
PGC_FLOAT_REDUCE(float)
PGC_FLOAT_REDUCE(double)

#define PGC_INT_REDUCE(NAME, T, U)                                             \
  extern "C" __global__ void pgc_reduce_rows_##NAME(                           \
      const T *x, T *out, long long outer, long long extent, long long inner, \
      int kind) {                                                              \
    pgcReduceIntRows<T, U>(x, out, outer, extent, inner, kind);               \
  }                                                                            \
  extern "C" __global__ void pgc_reduce_columns_##NAME(                        \
      const T *x, T *out, long long outer, long long extent, long long inner, \
      int kind) {                                                              \
    pgcReduceIntColumns<T, U>(x, out, outer, extent, inner, kind);            \
  }                                                                            \
  extern "C" __global__ void pgc_cumsum_##NAME(const T *x, T *out,             \
                                               long long outer,                \
                                               long long extent,               \
                                               long long inner) {              \
    pgcCumsumInt<T, U>(x, out, outer, extent, inner);                         \
  }
PGC_INT_REDUCE(i32, int, unsigned)
PGC_INT_REDUCE(i64, long long, unsigned long long)
)CUDA";

std::string accName(bool f64) { return f64 ? "double" : "float"; }

std::string formatAxes(const std::vector<int64_t> &axes) {
  std::string text = "[";
  for (size_t i = 0; i < axes.size(); ++i)
    text += (i ? ", " : "") + std::to_string(axes[i]);
  return text + "]";
}

} // namespace

const char *detail::reductionPrelude() { return kPrelude; }

bool detail::anyF64(std::initializer_list<DType> dtypes) {
  return std::find(dtypes.begin(), dtypes.end(), DType::F64) != dtypes.end();
}

void detail::requireFloatOperand(const DeviceTensor &t, const char *op,
                                 const char *name) {
  if (!isFloat(t.dtype))
    fail("{}: {} must be a float tensor, got {}", op, name, dtypeName(t.dtype));
}

void detail::requireShapeOf(const DeviceTensor &t, const Shape &expected,
                            const char *op, const char *name) {
  if (t.shape != expected)
    fail("{}: {} has shape {}, expected {}", op, name, formatShape(t.shape),
         formatShape(expected));
}

int64_t detail::normalizeAxisOf(int64_t axis, int64_t rank, const char *op) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail("{}: axis {} is out of range for rank {}", op, axis, rank);
  return a;
}

unsigned detail::gridFor(const Stream &stream, int64_t items, int64_t perSm) {
  int64_t cap =
      std::max<int64_t>(1, stream.context().info().multiprocessors) * perSm;
  return static_cast<unsigned>(
      std::max<int64_t>(1, std::min<int64_t>(items, cap)));
}

const KernelSource &reduceSource() {
  static const KernelSource source{
      "reduce.cu", std::string(kPrelude) + kReduceKernels, {}};
  return source;
}

int reductionThreads(int64_t extent) {
  int64_t warps = (extent + 31) / 32;
  return static_cast<int>(32 * std::clamp<int64_t>(warps, 1, 8));
}

bool reductionIsSequential(int64_t extent, int64_t inner) {
  // Columns of a wide tensor coalesce across threads and are many; a short
  // row is cheaper summed by one thread than by a block.
  return inner >= 32 || extent <= 32;
}

namespace {

/// Which dimensions `axes` reduce (checked as the CPU checks them), and the
/// first and last reduced one not of size 1 (-1 when there is none).
struct ReducedDims {
  std::vector<bool> reduced;
  int64_t first = -1, last = -1;

  /// Whether only reduced dimensions or ones of size 1 lie between first and
  /// last, so that x is [outer, extent, inner].
  bool consecutive(const Shape &shape) const {
    for (int64_t d = first + 1; d < last; ++d)
      if (!reduced[d] && shape[d] != 1)
        return false;
    return true;
  }
};

ReducedDims reducedDims(const Shape &shape, const std::vector<int64_t> &axes,
                        const char *op) {
  int64_t rank = static_cast<int64_t>(shape.size());
  ReducedDims dims;
  dims.reduced.assign(rank, false);
  for (int64_t axis : axes) {
    int64_t a = detail::normalizeAxisOf(axis, rank, op);
    if (dims.reduced[a])
      fail("{}: axis {} is listed twice", op, axis);
    dims.reduced[a] = true;
  }
  for (int64_t d = 0; d < rank; ++d)
    if (dims.reduced[d] && shape[d] != 1) {
      dims.first = dims.first < 0 ? d : dims.first;
      dims.last = d;
    }
  return dims;
}

} // namespace

ReductionView reductionView(const Shape &shape,
                            const std::vector<int64_t> &axes, bool keepDims,
                            const Shape &outShape, const char *op) {
  int64_t rank = static_cast<int64_t>(shape.size());
  ReducedDims dims = reducedDims(shape, axes, op);
  const std::vector<bool> &reduced = dims.reduced;
  Shape expected;
  int64_t extent = 1, kept = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d])
      expected.push_back(shape[d]);
    else if (keepDims)
      expected.push_back(1);
    (reduced[d] ? extent : kept) *= shape[d];
  }
  if (outShape != expected)
    fail("{}: result has shape {}, expected {}", op, formatShape(outShape),
         formatShape(expected));
  ReductionView view;
  view.extent = extent;
  // With nothing to read, every output is the same identity: any order works.
  if (extent == 0 || kept == 0) {
    view.outer = kept;
    return view;
  }
  // Dimensions of size 1 can sit anywhere; the others that are reduced must
  // be consecutive so that x is [outer, extent, inner].
  if (!dims.consecutive(shape))
    fail("{}: the GPU kernel reduces consecutive axes only; axes {} of "
         "shape {} are not",
         op, formatAxes(axes), formatShape(shape));
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[d])
      (dims.first >= 0 && d > dims.last ? view.inner : view.outer) *= shape[d];
  return view;
}

std::vector<int64_t> reductionReorder(const Shape &shape,
                                      const std::vector<int64_t> &axes,
                                      const char *op) {
  ReducedDims dims = reducedDims(shape, axes, op);
  if (dims.first < 0 || dims.consecutive(shape))
    return {};
  std::vector<int64_t> order;
  for (bool wantReduced : {false, true})
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
      if (dims.reduced[d] == wantReduced)
        order.push_back(d);
  return order;
}

void launchReduce(const Module &module, const Stream &stream, ReduceKind kind,
                  const DeviceTensor &x, const std::vector<int64_t> &axes,
                  bool keepDims, const DeviceTensor &out) {
  const char *op = kind == ReduceKind::Sum   ? "reduce_sum"
                   : kind == ReduceKind::Max ? "reduce_max"
                                             : "reduce_mean";
  ReductionView view = reductionView(x.shape, axes, keepDims, out.shape, op);
  int kindCode = static_cast<int>(kind);
  bool sequential = reductionIsSequential(view.extent, view.inner);
  std::string name =
      std::string("pgc_reduce_") + (sequential ? "columns_" : "rows_");
  bool isFloatOp = isFloat(x.dtype);
  if (isFloatOp) {
    detail::requireFloatOperand(out, op, "result");
    name += accName(detail::anyF64({x.dtype, out.dtype}));
  } else {
    if (out.dtype != x.dtype)
      fail("{}: result has dtype {}, expected {}", op, dtypeName(out.dtype),
           dtypeName(x.dtype));
    if (x.dtype != DType::I32 && x.dtype != DType::I64)
      fail("{}: operand must be float, i32 or i64, got {}", op,
           dtypeName(x.dtype));
    if (kind == ReduceKind::Mean)
      fail("{}: operand must be a float tensor, got {}", op,
           dtypeName(x.dtype));
    if (kind == ReduceKind::Max && view.extent == 0)
      fail("{}: cannot take the max of an empty {} axis", op,
           dtypeName(x.dtype));
    name += x.dtype == DType::I32 ? "i32" : "i64";
  }
  int64_t outputs = view.outer * view.inner;
  if (outputs == 0)
    return;
  LaunchShape shape;
  if (sequential) {
    shape.blockX = 128;
    shape.gridX = detail::gridFor(stream, (outputs + 127) / 128, 16);
  } else {
    shape.blockX = reductionThreads(view.extent);
    shape.gridX = detail::gridFor(stream, outputs, 32);
  }
  api::CUdeviceptr xp = x.address, op2 = out.address;
  int xType = static_cast<int>(x.dtype), outType = static_cast<int>(out.dtype);
  long long outer = view.outer, extent = view.extent, inner = view.inner;
  if (isFloatOp) {
    void *arguments[] = {&xp,    &xType,  &op2,   &outType,
                         &outer, &extent, &inner, &kindCode};
    launchKernel(stream, module.function(name.c_str()), shape, arguments, op);
  } else {
    void *arguments[] = {&xp, &op2, &outer, &extent, &inner, &kindCode};
    launchKernel(stream, module.function(name.c_str()), shape, arguments, op);
  }
}

void launchCumsum(const Module &module, const Stream &stream,
                  const DeviceTensor &x, int64_t axis,
                  const DeviceTensor &out) {
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t a = detail::normalizeAxisOf(axis, rank, "cumsum");
  detail::requireShapeOf(out, x.shape, "cumsum", "result");
  long long extent = x.shape[a], inner = 1;
  for (int64_t d = a + 1; d < rank; ++d)
    inner *= x.shape[d];
  long long outer = extent * inner == 0 ? 0 : x.numel() / (extent * inner);
  std::string name = "pgc_cumsum_";
  bool isFloatOp = isFloat(x.dtype);
  if (isFloatOp) {
    detail::requireFloatOperand(out, "cumsum", "result");
    name += accName(detail::anyF64({x.dtype, out.dtype}));
  } else {
    if (out.dtype != x.dtype)
      fail("cumsum: result has dtype {}, expected {}", dtypeName(out.dtype),
           dtypeName(x.dtype));
    if (x.dtype != DType::I32 && x.dtype != DType::I64)
      fail("cumsum: operand must be float, i32 or i64, got {}",
           dtypeName(x.dtype));
    name += x.dtype == DType::I32 ? "i32" : "i64";
  }
  long long lines = outer * inner;
  if (lines == 0)
    return;
  LaunchShape shape;
  shape.blockX = 128;
  shape.gridX = detail::gridFor(stream, (lines + 127) / 128, 16);
  api::CUdeviceptr xp = x.address, outp = out.address;
  int xType = static_cast<int>(x.dtype), outType = static_cast<int>(out.dtype);
  if (isFloatOp) {
    void *arguments[] = {&xp, &xType, &outp, &outType, &outer, &extent, &inner};
    launchKernel(stream, module.function(name.c_str()), shape, arguments,
                 "cumsum");
  } else {
    void *arguments[] = {&xp, &outp, &outer, &extent, &inner};
    launchKernel(stream, module.function(name.c_str()), shape, arguments,
                 "cumsum");
  }
}

} // namespace pgc::cuda
