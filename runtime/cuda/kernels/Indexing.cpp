// The indexing kernels on the GPU (gather, scatter_add, scatter) and their
// id checks, bit for bit the CPU kernels of runtime/cpu/Indexing.cpp.
#include "runtime/cuda/kernels/DeviceRounding.h"
#include "runtime/cuda/kernels/Layout.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <limits>
#include <string>

namespace pgc::cuda {
namespace {

// Ids are checked on the device: an out-of-range id's flat position goes to
// a u64 word by atomicMin (the lowest one wins, the one the CPU names), and
// the kernels that use ids skip it, so a bad id never reads or writes
// outside a buffer.
//
// gather and scatter only move rows, so their kernels are typed by the
// width of a unit (1 to 16 bytes) that divides a row and the buffers'
// alignment.
//
// scatter_add must add each row's updates in increasing position, in f32
// (f64 when dy or dtable is f64), starting from +0, and round once to
// dtable's dtype, as the CPU does. Float atomics would add in whatever order
// the threads arrive (and float addition is not associative), so the result
// would change from run to run and differ from the CPU. Instead the
// positions are grouped by id, stably, with integer work only:
//   1. rows: each position's id as an i32 row (-1 when bad), and a count per
//      row (integer atomicAdd: the counts do not depend on the order);
//   2. starts: an exclusive prefix sum of the counts (one block);
//   3. order: the positions of each row in increasing order, at
//      [starts[r], starts[r + 1]). Rows are split into buckets (row & mask),
//      one thread per bucket; every thread walks all positions from the last
//      to the first and puts those of its rows at starts[r] + --counts[r],
//      so each row's positions are placed by one thread, in order;
//   4. sum: one thread per dtable element (r, c) adds dy[order[k]][c] for k
//      over its row's range, sequentially, and stores the rounded sum. Every
//      element is written, rows without ids as +0.
// The grouping is deterministic, and every element's sum has the CPU's
// operands in the CPU's order, so the bits are the CPU's (NaN payloads
// aside: any NaN the GPU computes is its canonical NaN).
//
// scatter's last writer of each (b, row) is an integer atomicMax over n,
// which does not depend on the order either; then each element of out takes
// updates[b, last] or dest.
const char *const kSource = R"CUDA(
template <typename Id>
__device__ __forceinline__ void checkIds(const Id *__restrict__ ids,
                                         long long count, long long rows,
                                         unsigned long long *bad) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       i < count; i += step) {
    long long id = (long long)ids[i];
    if (id < 0 || id >= rows)
      atomicMin(bad, (unsigned long long)i);
  }
}

// out row i = table row ids[i] (zeros for a bad id), in units.
template <typename T, typename Id>
__device__ __forceinline__ void gatherRows(const T *__restrict__ table,
                                           const Id *__restrict__ ids,
                                           long long rows, long long units,
                                           long long total,
                                           T *__restrict__ out) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       e < total; e += step) {
    long long i = e / units;
    long long id = (long long)ids[i];
    out[e] = (id >= 0 && id < rows) ? table[id * units + (e - i * units)] : T();
  }
}

// Step 1 of scatter_add.
template <typename Id>
__device__ __forceinline__ void scatterAddRows(const Id *__restrict__ ids,
                                               long long count, long long rows,
                                               int *__restrict__ rowOf,
                                               int *__restrict__ counts,
                                               unsigned long long *bad) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       i < count; i += step) {
    long long id = (long long)ids[i];
    if (id < 0 || id >= rows) {
      rowOf[i] = -1;
      atomicMin(bad, (unsigned long long)i);
    } else {
      rowOf[i] = (int)id;
      atomicAdd(counts + id, 1);
    }
  }
}

// scatter: last[b * rows + id] = the largest n with indices[b, n] == id.
template <typename Id>
__device__ __forceinline__ void scatterLast(const Id *__restrict__ indices,
                                            long long batch, long long count,
                                            long long rows,
                                            int *__restrict__ last,
                                            unsigned long long *bad) {
  long long total = batch * count;
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       p < total; p += step) {
    long long b = p / count;
    long long id = (long long)indices[p];
    if (id < 0 || id >= rows)
      atomicMin(bad, (unsigned long long)p);
    else
      atomicMax(last + b * rows + id, (int)(p - b * count));
  }
}

#define PGC_ID_KERNELS(IN, Id)                                                 \
  extern "C" __global__ void pgc_check_ids_##IN(                               \
      const Id *ids, long long count, long long rows,                          \
      unsigned long long *bad) {                                               \
    checkIds<Id>(ids, count, rows, bad);                                       \
  }                                                                            \
  extern "C" __global__ void pgc_scatter_add_rows_##IN(                        \
      const Id *ids, long long count, long long rows, int *rowOf,              \
      int *counts, unsigned long long *bad) {                                  \
    scatterAddRows<Id>(ids, count, rows, rowOf, counts, bad);                  \
  }                                                                            \
  extern "C" __global__ void pgc_scatter_last_##IN(                            \
      const Id *indices, long long batch, long long count, long long rows,     \
      int *last, unsigned long long *bad) {                                    \
    scatterLast<Id>(indices, batch, count, rows, last, bad);                   \
  }

PGC_ID_KERNELS(i32, int)
PGC_ID_KERNELS(i64, long long)

// scatter: out may be dest itself (each element reads its own place first).
template <typename T>
__device__ __forceinline__ void scatterRows(const T *dest,
                                            const T *__restrict__ updates,
                                            const int *__restrict__ last,
                                            long long rows, long long count,
                                            long long units, long long total,
                                            T *out) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       e < total; e += step) {
    long long r = e / units;
    int n = last[r];
    out[e] = n >= 0
                 ? updates[((r / rows) * count + n) * units + (e - r * units)]
                 : dest[e];
  }
}

#define PGC_UNIT_KERNELS(W, T)                                                 \
  extern "C" __global__ void pgc_gather_w##W##_i32(                            \
      const T *table, const int *ids, long long rows, long long units,         \
      long long total, T *out) {                                               \
    gatherRows<T, int>(table, ids, rows, units, total, out);                   \
  }                                                                            \
  extern "C" __global__ void pgc_gather_w##W##_i64(                            \
      const T *table, const long long *ids, long long rows, long long units,   \
      long long total, T *out) {                                               \
    gatherRows<T, long long>(table, ids, rows, units, total, out);             \
  }                                                                            \
  extern "C" __global__ void pgc_scatter_rows_w##W(                            \
      const T *dest, const T *updates, const int *last, long long rows,        \
      long long count, long long units, long long total, T *out) {             \
    scatterRows<T>(dest, updates, last, rows, count, units, total, out);       \
  }

PGC_UNIT_KERNELS(1, unsigned char)
PGC_UNIT_KERNELS(2, unsigned short)
PGC_UNIT_KERNELS(4, unsigned int)
PGC_UNIT_KERNELS(8, unsigned long long)
PGC_UNIT_KERNELS(16, uint4)

// Step 2: one block of 1024 threads; each sums a contiguous chunk of the
// counts, the block scans the 1024 sums, then each writes its chunk's starts.
extern "C" __global__ void __launch_bounds__(1024)
    pgc_scatter_add_starts(const int *__restrict__ counts, int rows,
                           int *__restrict__ starts) {
  __shared__ int sums[1024];
  int t = threadIdx.x;
  long long chunk = ((long long)rows + 1023) / 1024;
  long long begin = min((long long)rows, t * chunk);
  long long end = min((long long)rows, begin + chunk);
  int sum = 0;
  for (long long r = begin; r < end; ++r)
    sum += counts[r];
  sums[t] = sum;
  __syncthreads();
  for (int offset = 1; offset < 1024; offset <<= 1) {
    int add = t >= offset ? sums[t - offset] : 0;
    __syncthreads();
    sums[t] += add;
    __syncthreads();
  }
  int run = t ? sums[t - 1] : 0;
  for (long long r = begin; r < end; ++r) {
    starts[r] = run;
    run += counts[r];
  }
  if (t == 1023)
    starts[rows] = sums[1023];
}

// Step 3: gridDim.x * blockDim.x is a power of two, the number of buckets.
// The positions are staged in shared memory, a tile at a time, and every
// thread of the block reads each one (a broadcast).
extern "C" __global__ void __launch_bounds__(256)
    pgc_scatter_add_order(const int *__restrict__ rowOf, int count,
                          const int *__restrict__ starts,
                          int *__restrict__ counts, int *__restrict__ order) {
  const int kTile = 4096;
  __shared__ int tile[kTile];
  unsigned int mask = gridDim.x * blockDim.x - 1;
  unsigned int bucket = blockIdx.x * blockDim.x + threadIdx.x;
  for (int end = count; end > 0; end -= kTile) {
    int begin = max(0, end - kTile);
    __syncthreads();
    for (int i = begin + (int)threadIdx.x; i < end; i += blockDim.x)
      tile[i - begin] = rowOf[i];
    __syncthreads();
    for (int i = end - 1; i >= begin; --i) {
      int r = tile[i - begin];
      if (r >= 0 && ((unsigned int)r & mask) == bucket)
        order[starts[r] + --counts[r]] = i;
    }
  }
}

struct Bf16 {
  unsigned short bits;
};
struct F16 {
  unsigned short bits;
};

// Exact widenings (runtime/support/DType.h's bf16ToF32 and f16ToF32).
__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(Bf16 v) {
  return __uint_as_float((unsigned int)v.bits << 16);
}
__device__ __forceinline__ float toFloat(F16 v) {
  unsigned int sign = (unsigned int)(v.bits & 0x8000u) << 16;
  unsigned int exponent = (v.bits >> 10) & 0x1fu;
  unsigned int mantissa = v.bits & 0x3ffu;
  if (exponent == 0) {
    float result = __fmul_rn((float)mantissa, 5.9604644775390625e-8f);
    return sign ? -result : result;
  }
  if (exponent == 31)
    return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));
  return __uint_as_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}
template <typename T> __device__ __forceinline__ float widenLike(float, T v) {
  return toFloat(v);
}
__device__ __forceinline__ double widenLike(double, double v) { return v; }
template <typename T> __device__ __forceinline__ double widenLike(double, T v) {
  return (double)toFloat(v);
}
__device__ __forceinline__ float accumulate(float a, float b) {
  return __fadd_rn(a, b);
}
__device__ __forceinline__ double accumulate(double a, double b) {
  return __dadd_rn(a, b);
}

__device__ __forceinline__ float roundToOddFloat(double value) {
  float truncated = __double2float_rz(value);
  if (value == value && (double)truncated != value)
    truncated = __uint_as_float(__float_as_uint(truncated) | 1u);
  return truncated;
}
__device__ __forceinline__ void narrow(float acc, float *out) { *out = acc; }
__device__ __forceinline__ void narrow(float acc, Bf16 *out) {
  out->bits = f32ToBf16(acc);
}
__device__ __forceinline__ void narrow(float acc, F16 *out) {
  out->bits = f32ToF16(acc);
}
__device__ __forceinline__ void narrow(double acc, double *out) { *out = acc; }
__device__ __forceinline__ void narrow(double acc, float *out) {
  *out = __double2float_rn(acc);
}
__device__ __forceinline__ void narrow(double acc, Bf16 *out) {
  out->bits = f32ToBf16(roundToOddFloat(acc));
}
__device__ __forceinline__ void narrow(double acc, F16 *out) {
  out->bits = f32ToF16(roundToOddFloat(acc));
}

// Step 4.
template <typename In, typename Out, typename Acc>
__device__ __forceinline__ void scatterAddSum(const In *__restrict__ dy,
                                              const int *__restrict__ starts,
                                              const int *__restrict__ order,
                                              long long total,
                                              long long rowSize,
                                              Out *__restrict__ dtable) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       e < total; e += step) {
    long long r = e / rowSize;
    long long c = e - r * rowSize;
    Acc acc = 0;
    for (int k = starts[r], end = starts[r + 1]; k < end; ++k)
      acc = accumulate(acc, widenLike(acc, dy[(long long)order[k] * rowSize + c]));
    narrow(acc, dtable + e);
  }
}

#define PGC_SCATTER_ADD(DN, DT, ON, OT, ACC)                                   \
  extern "C" __global__ void pgc_scatter_add_##DN##_##ON(                      \
      const DT *dy, const int *starts, const int *order, long long total,      \
      long long rowSize, OT *dtable) {                                         \
    scatterAddSum<DT, OT, ACC>(dy, starts, order, total, rowSize, dtable);     \
  }
#define PGC_SCATTER_ADD_TO(ON, OT, ACC, ACC64)                                 \
  PGC_SCATTER_ADD(bf16, Bf16, ON, OT, ACC)                                     \
  PGC_SCATTER_ADD(f16, F16, ON, OT, ACC)                                       \
  PGC_SCATTER_ADD(f32, float, ON, OT, ACC)                                     \
  PGC_SCATTER_ADD(f64, double, ON, OT, ACC64)

PGC_SCATTER_ADD_TO(bf16, Bf16, float, double)
PGC_SCATTER_ADD_TO(f16, F16, float, double)
PGC_SCATTER_ADD_TO(f32, float, float, double)
PGC_SCATTER_ADD_TO(f64, double, double, double)
)CUDA";

void requireIndexDType(const DeviceTensor &t, const char *op,
                       const char *name) {
  if (t.dtype != DType::I32 && t.dtype != DType::I64)
    fail("{}: {} must be i32 or i64, got {}", op, name, dtypeName(t.dtype));
}

void requireFloat(const DeviceTensor &t, const char *op, const char *name) {
  if (!isFloat(t.dtype))
    fail("{}: {} must be a float tensor, got {}", op, name, dtypeName(t.dtype));
}

void requireRank(const DeviceTensor &t, int64_t rank, const char *op,
                 const char *name) {
  if (t.rank() != rank)
    fail("{}: {} must have rank {}, got shape {}", op, name, rank,
         formatShape(t.shape));
}

// ids' shape followed by a table row's shape.
Shape lookupShape(const DeviceTensor &ids, const Shape &tableShape) {
  Shape shape = ids.shape;
  shape.insert(shape.end(), tableShape.begin() + 1, tableShape.end());
  return shape;
}

const char *idSuffix(const DeviceTensor &ids) {
  return ids.dtype == DType::I32 ? "i32" : "i64";
}

void launch(const Module &module, const Stream &stream, const std::string &name,
            int64_t count, void **arguments, const char *op) {
  launchKernel(stream, module.function(name.c_str()),
               detail::layoutGrid(stream, count), arguments, op);
}

// Resets the id word; the caller's kernels then report into it.
IdCheck startIdCheck(const Stream &stream, api::CUdeviceptr word,
                     const DeviceTensor &ids, int64_t rows, const char *op,
                     const char *what) {
  if (word == 0 || word % 8 != 0)
    fail("{}: the id word must be an 8-byte aligned device address", op);
  fillBytes(stream, word, 0xff, 8);
  return IdCheck{word, ids, rows, op, what};
}

void requireInt32Range(int64_t value, const char *op, const char *what) {
  if (value >= std::numeric_limits<int32_t>::max())
    fail("{}: {} {} exceeds the GPU kernel's i32 range", op, what, value);
}

} // namespace

const KernelSource &indexingSource() {
  static const KernelSource source{
      "indexing.cu", std::string(deviceFloatRoundingSource()) + kSource, {}};
  return source;
}

std::optional<std::pair<uint64_t, int64_t>>
firstFlaggedId(const Stream &stream, api::CUdeviceptr word,
               const DeviceTensor &ids) {
  if (word == 0)
    return std::nullopt;
  uint64_t position = 0;
  copyToHost(stream, &position, word, 8);
  stream.synchronize();
  if (position == ~uint64_t(0))
    return std::nullopt;
  int64_t id = 0;
  size_t width = dtypeSize(ids.dtype);
  if (ids.dtype == DType::I32) {
    int32_t narrow = 0;
    copyToHost(stream, &narrow, ids.address + position * width, width);
    id = narrow;
  } else {
    copyToHost(stream, &id, ids.address + position * width, width);
  }
  stream.synchronize();
  return std::make_pair(position, id);
}

void IdCheck::verify(const Stream &stream) const {
  if (auto flagged = firstFlaggedId(stream, word, ids))
    fail("{}: {} {} at position {} is outside [0, {})", op, what,
         flagged->second, flagged->first, rows);
}

void validateGather(const DeviceTensor &table, const DeviceTensor &ids,
                    const DeviceTensor &out) {
  if (table.rank() < 1)
    fail("gather: table must have rank >= 1, got a scalar");
  requireIndexDType(ids, "gather", "ids");
  detail::requireDType(out, table.dtype, "gather", "result");
  detail::requireShape(out, lookupShape(ids, table.shape), "gather", "result");
}

IdCheck launchGather(const Module &indexing, const Stream &stream,
                     const DeviceTensor &table, const DeviceTensor &ids,
                     const DeviceTensor &out, api::CUdeviceptr idWord) {
  validateGather(table, ids, out);
  IdCheck check =
      startIdCheck(stream, idWord, ids, table.dim(0), "gather", "id");
  long long count = ids.numel(), rows = table.dim(0);
  if (count == 0)
    return check;
  api::CUdeviceptr idAddress = ids.address, word = idWord;
  void *checkArguments[] = {&idAddress, &count, &rows, &word};
  launch(indexing, stream, std::string("pgc_check_ids_") + idSuffix(ids), count,
         checkArguments, "gather");
  int64_t rowBytes = rows ? static_cast<int64_t>(table.bytes()) / rows : 0;
  if (rowBytes == 0)
    return check;
  int64_t unit = detail::widestUnit(
      {static_cast<uint64_t>(rowBytes), table.address, out.address});
  long long units = rowBytes / unit, total = count * units;
  api::CUdeviceptr source = table.address, destination = out.address;
  void *arguments[] = {&source, &idAddress, &rows,
                       &units,  &total,     &destination};
  launch(indexing, stream,
         "pgc_gather_w" + std::to_string(unit) + "_" + idSuffix(ids), total,
         arguments, "gather");
  return check;
}

void validateScatterAdd(const DeviceTensor &ids, const DeviceTensor &dy,
                        const DeviceTensor &dtable) {
  if (dtable.rank() < 1)
    fail("scatter_add: result must have rank >= 1, got a scalar");
  requireIndexDType(ids, "scatter_add", "ids");
  detail::requireShape(dy, lookupShape(ids, dtable.shape), "scatter_add", "dy");
  requireFloat(dy, "scatter_add", "dy");
  requireFloat(dtable, "scatter_add", "result");
  requireInt32Range(dtable.dim(0), "scatter_add", "row count");
  requireInt32Range(ids.numel(), "scatter_add", "id count");
}

// rowOf and order (one i32 per id), counts (one per row), starts (one per
// row, plus one).
size_t scatterAddWorkspaceBytes(const DeviceTensor &ids,
                                const DeviceTensor &dtable) {
  int64_t rows = dtable.rank() ? dtable.dim(0) : 0;
  return static_cast<size_t>(2 * ids.numel() + 2 * rows + 1) * 4;
}

IdCheck launchScatterAdd(const Module &indexing, const Stream &stream,
                         const DeviceTensor &ids, const DeviceTensor &dy,
                         const DeviceTensor &dtable, api::CUdeviceptr workspace,
                         api::CUdeviceptr idWord) {
  validateScatterAdd(ids, dy, dtable);
  if (workspace % 4 != 0)
    fail("scatter_add: the workspace must be 4-byte aligned");
  int64_t rows64 = dtable.dim(0), count64 = ids.numel();
  IdCheck check =
      startIdCheck(stream, idWord, ids, rows64, "scatter_add", "id");
  api::CUdeviceptr rowOf = workspace, order = rowOf + 4 * count64,
                   counts = order + 4 * count64, starts = counts + 4 * rows64;
  // 1. rows and counts.
  if (rows64)
    fillBytes(stream, counts, 0, 4 * rows64);
  long long count = count64, rows = rows64;
  api::CUdeviceptr idAddress = ids.address, word = idWord;
  if (count) {
    void *arguments[] = {&idAddress, &count, &rows, &rowOf, &counts, &word};
    launch(indexing, stream,
           std::string("pgc_scatter_add_rows_") + idSuffix(ids), count,
           arguments, "scatter_add");
  }
  long long rowSize = rows64 ? dtable.numel() / rows64 : 0;
  long long total = dtable.numel();
  if (total == 0)
    return check;
  // 2. starts.
  int rows32 = static_cast<int>(rows64), count32 = static_cast<int>(count64);
  {
    LaunchShape one;
    one.blockX = 1024;
    void *arguments[] = {&counts, &rows32, &starts};
    launchKernel(stream, indexing.function("pgc_scatter_add_starts"), one,
                 arguments, "scatter_add");
  }
  // 3. order: a power-of-two number of blocks of 256 buckets, enough for one
  // row per bucket up to 64 blocks.
  if (count) {
    LaunchShape buckets;
    buckets.blockX = 256;
    while (buckets.gridX < 64 && int64_t(buckets.gridX) * 256 < rows64)
      buckets.gridX *= 2;
    void *arguments[] = {&rowOf, &count32, &starts, &counts, &order};
    launchKernel(stream, indexing.function("pgc_scatter_add_order"), buckets,
                 arguments, "scatter_add");
  }
  // 4. sums.
  api::CUdeviceptr dyAddress = dy.address, out = dtable.address;
  void *arguments[] = {&dyAddress, &starts, &order, &total, &rowSize, &out};
  launch(indexing, stream,
         "pgc_scatter_add_" + std::string(dtypeName(dy.dtype)) + "_" +
             std::string(dtypeName(dtable.dtype)),
         total, arguments, "scatter_add");
  return check;
}

void validateScatter(const DeviceTensor &dest, const DeviceTensor &indices,
                     const DeviceTensor &updates, const DeviceTensor &out) {
  requireRank(dest, 3, "scatter", "destination");
  requireRank(indices, 2, "scatter", "indices");
  int64_t batch = dest.dim(0), width = dest.dim(2);
  int64_t count = indices.dim(1);
  detail::requireShape(indices, {batch, count}, "scatter", "indices");
  detail::requireShape(updates, {batch, count, width}, "scatter", "updates");
  detail::requireDType(updates, dest.dtype, "scatter", "updates");
  detail::requireDType(out, dest.dtype, "scatter", "result");
  detail::requireShape(out, dest.shape, "scatter", "result");
  requireIndexDType(indices, "scatter", "indices");
  requireInt32Range(count, "scatter", "index count");
}

size_t scatterWorkspaceBytes(const DeviceTensor &dest) {
  return dest.rank() == 3 ? static_cast<size_t>(dest.dim(0) * dest.dim(1)) * 4
                          : 0;
}

IdCheck launchScatter(const Module &indexing, const Stream &stream,
                      const DeviceTensor &dest, const DeviceTensor &indices,
                      const DeviceTensor &updates, const DeviceTensor &out,
                      api::CUdeviceptr workspace, api::CUdeviceptr idWord) {
  validateScatter(dest, indices, updates, out);
  if (workspace % 4 != 0)
    fail("scatter: the workspace must be 4-byte aligned");
  long long batch = dest.dim(0), rows = dest.dim(1), count = indices.dim(1);
  IdCheck check =
      startIdCheck(stream, idWord, indices, rows, "scatter", "row index");
  if (batch * rows == 0)
    return check;
  api::CUdeviceptr last = workspace, word = idWord;
  fillBytes(stream, last, 0xff, static_cast<size_t>(batch * rows) * 4);
  if (batch * count) {
    api::CUdeviceptr idAddress = indices.address;
    void *arguments[] = {&idAddress, &batch, &count, &rows, &last, &word};
    launch(indexing, stream,
           std::string("pgc_scatter_last_") + idSuffix(indices), batch * count,
           arguments, "scatter");
  }
  int64_t rowBytes = dest.dim(2) * static_cast<int64_t>(dtypeSize(dest.dtype));
  if (rowBytes == 0)
    return check;
  int64_t unit =
      detail::widestUnit({static_cast<uint64_t>(rowBytes), dest.address,
                          updates.address, out.address});
  long long units = rowBytes / unit, total = batch * rows * units;
  api::CUdeviceptr source = dest.address, update = updates.address,
                   destination = out.address;
  void *arguments[] = {&source, &update, &last,  &rows,
                       &count,  &units,  &total, &destination};
  launch(indexing, stream, "pgc_scatter_rows_w" + std::to_string(unit), total,
         arguments, "scatter");
  return check;
}

} // namespace pgc::cuda
