// RMSNorm and LayerNorm over the last dim, and their gradients, on the GPU:
// one block per row, in the CPU kernel's compute type and formula
// (runtime/cpu/Norms.cpp); dw and db summed deterministically over rows.
#include "runtime/cuda/kernels/Reduce.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <string>

namespace pgc::cuda {
namespace {

// Rows are contiguous, `width` elements each. Row statistics go through the
// prelude's fixed-order block sums; each element's formula is the CPU's,
// operation for operation (rounded _rn intrinsics, no FMA).
//
// The gradients' dw/db are sums over rows. Instead of atomics (whose order,
// and so whose bits, would vary run to run) the row kernel saves each row's
// statistics, a second kernel sums every column over a chunk of rows in row
// order (blockIdx.y = chunk), and a third sums the chunk totals in chunk
// order. With one chunk that is the CPU's order exactly.
const char *const kKernels = R"CUDA(
template <typename Acc>
__device__ __forceinline__ Acc pgcGain(const void *w, int wType, long long c,
                                       int unitOffset) {
  Acc g = pgcLoad<Acc>(w, wType, c);
  return unitOffset ? pgcAdd(Acc(1), g) : g;
}

template <typename Acc>
__device__ Acc pgcRmsScale(const void *x, int xType, long long base,
                           long long width, Acc eps, Acc *scratch) {
  Acc squares = 0;
  for (long long c = threadIdx.x; c < width; c += blockDim.x) {
    Acc v = pgcLoad<Acc>(x, xType, base + c);
    squares = pgcAdd(squares, pgcMul(v, v));
  }
  squares = pgcBlockReduce(squares, scratch, Acc(0), PgcSum());
  return pgcDiv(Acc(1),
                pgcSqrt(pgcAdd(pgcDiv(squares, (Acc)width), eps)));
}

template <typename Acc>
__device__ void pgcLayerStats(const void *x, int xType, long long base,
                              long long width, Acc eps, Acc *scratch,
                              Acc &mean, Acc &rstd) {
  Acc sum = 0;
  for (long long c = threadIdx.x; c < width; c += blockDim.x)
    sum = pgcAdd(sum, pgcLoad<Acc>(x, xType, base + c));
  sum = pgcBlockReduce(sum, scratch, Acc(0), PgcSum());
  mean = pgcDiv(sum, (Acc)width);
  Acc squares = 0;
  for (long long c = threadIdx.x; c < width; c += blockDim.x) {
    Acc d = pgcSub(pgcLoad<Acc>(x, xType, base + c), mean);
    squares = pgcAdd(squares, pgcMul(d, d));
  }
  squares = pgcBlockReduce(squares, scratch, Acc(0), PgcSum());
  rstd = pgcDiv(Acc(1), pgcSqrt(pgcAdd(pgcDiv(squares, (Acc)width), eps)));
}

template <typename Acc>
__device__ void pgcRmsNorm(const void *x, int xType, const void *w, int wType,
                           void *out, int outType, long long rows,
                           long long width, double eps, int unitOffset) {
  __shared__ Acc scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long base = r * width;
    Acc scale = pgcRmsScale(x, xType, base, width, (Acc)eps, scratch);
    for (long long c = threadIdx.x; c < width; c += blockDim.x)
      pgcStore(out, outType, base + c,
               pgcMul(pgcMul(pgcLoad<Acc>(x, xType, base + c), scale),
                      pgcGain<Acc>(w, wType, c, unitOffset)));
  }
}

template <typename Acc>
__device__ void pgcRmsNormGradRows(const void *x, int xType, const void *w,
                                   int wType, const void *dy, int dyType,
                                   void *dx, int dxType, Acc *stats,
                                   long long rows, long long width, double eps,
                                   int unitOffset) {
  __shared__ Acc scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long base = r * width;
    Acc scale = pgcRmsScale(x, xType, base, width, (Acc)eps, scratch);
    Acc sumGX = 0;
    for (long long c = threadIdx.x; c < width; c += blockDim.x)
      sumGX = pgcAdd(sumGX, pgcMul(pgcMul(pgcLoad<Acc>(dy, dyType, base + c),
                                          pgcGain<Acc>(w, wType, c, unitOffset)),
                                   pgcLoad<Acc>(x, xType, base + c)));
    sumGX = pgcBlockReduce(sumGX, scratch, Acc(0), PgcSum());
    Acc correction =
        pgcDiv(pgcMul(pgcMul(pgcMul(scale, scale), scale), sumGX), (Acc)width);
    for (long long c = threadIdx.x; c < width; c += blockDim.x) {
      Acc g = pgcMul(pgcMul(scale, pgcLoad<Acc>(dy, dyType, base + c)),
                     pgcGain<Acc>(w, wType, c, unitOffset));
      pgcStore(dx, dxType, base + c,
               pgcSub(g, pgcMul(pgcLoad<Acc>(x, xType, base + c), correction)));
    }
    if (threadIdx.x == 0)
      stats[r] = scale;
  }
}

template <typename Acc>
__device__ void pgcRmsNormGradPartials(const void *x, int xType,
                                       const void *dy, int dyType,
                                       const Acc *stats, Acc *partials,
                                       long long rows, long long width,
                                       long long chunkRows) {
  long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= width)
    return;
  long long first = (long long)blockIdx.y * chunkRows;
  long long last = first + chunkRows < rows ? first + chunkRows : rows;
  Acc sum = 0;
  for (long long r = first; r < last; ++r)
    sum = pgcAdd(sum, pgcMul(pgcMul(pgcLoad<Acc>(dy, dyType, r * width + c),
                                    pgcLoad<Acc>(x, xType, r * width + c)),
                             stats[r]));
  partials[blockIdx.y * width + c] = sum;
}

template <typename Acc>
__device__ void pgcLayerNorm(const void *x, int xType, const void *w,
                             int wType, const void *b, int bType, void *out,
                             int outType, long long rows, long long width,
                             double eps) {
  __shared__ Acc scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long base = r * width;
    Acc mean, rstd;
    pgcLayerStats(x, xType, base, width, (Acc)eps, scratch, mean, rstd);
    for (long long c = threadIdx.x; c < width; c += blockDim.x) {
      Acc v = pgcMul(pgcMul(pgcSub(pgcLoad<Acc>(x, xType, base + c), mean),
                            rstd),
                     pgcLoad<Acc>(w, wType, c));
      pgcStore(out, outType, base + c,
               pgcAdd(v, pgcLoad<Acc>(b, bType, c)));
    }
  }
}

template <typename Acc>
__device__ void pgcLayerNormGradRows(const void *x, int xType, const void *w,
                                     int wType, const void *dy, int dyType,
                                     void *dx, int dxType, Acc *stats,
                                     long long rows, long long width,
                                     double eps) {
  __shared__ Acc scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long base = r * width;
    Acc mean, rstd;
    pgcLayerStats(x, xType, base, width, (Acc)eps, scratch, mean, rstd);
    Acc sumG = 0, sumGXhat = 0;
    for (long long c = threadIdx.x; c < width; c += blockDim.x) {
      Acc g = pgcMul(pgcLoad<Acc>(dy, dyType, base + c),
                     pgcLoad<Acc>(w, wType, c));
      sumG = pgcAdd(sumG, g);
      sumGXhat = pgcAdd(
          sumGXhat,
          pgcMul(pgcMul(g, pgcSub(pgcLoad<Acc>(x, xType, base + c), mean)),
                 rstd));
    }
    sumG = pgcBlockReduce(sumG, scratch, Acc(0), PgcSum());
    sumGXhat = pgcBlockReduce(sumGXhat, scratch, Acc(0), PgcSum());
    Acc meanG = pgcDiv(sumG, (Acc)width);
    Acc meanGXhat = pgcDiv(sumGXhat, (Acc)width);
    for (long long c = threadIdx.x; c < width; c += blockDim.x) {
      Acc xhat = pgcMul(pgcSub(pgcLoad<Acc>(x, xType, base + c), mean), rstd);
      Acc g = pgcMul(pgcLoad<Acc>(dy, dyType, base + c),
                     pgcLoad<Acc>(w, wType, c));
      pgcStore(dx, dxType, base + c,
               pgcMul(rstd, pgcSub(pgcSub(g, meanG), pgcMul(xhat, meanGXhat))));
    }
    if (threadIdx.x == 0) {
      stats[2 * r] = mean;
      stats[2 * r + 1] = rstd;
    }
  }
}

template <typename Acc>
__device__ void pgcLayerNormGradPartials(const void *x, int xType,
                                         const void *dy, int dyType,
                                         const Acc *stats, Acc *partials,
                                         long long rows, long long width,
                                         long long chunkRows) {
  long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= width)
    return;
  long long first = (long long)blockIdx.y * chunkRows;
  long long last = first + chunkRows < rows ? first + chunkRows : rows;
  Acc sumW = 0, sumB = 0;
  for (long long r = first; r < last; ++r) {
    Acc g = pgcLoad<Acc>(dy, dyType, r * width + c);
    Acc d = pgcSub(pgcLoad<Acc>(x, xType, r * width + c), stats[2 * r]);
    sumW = pgcAdd(sumW, pgcMul(pgcMul(g, d), stats[2 * r + 1]));
    sumB = pgcAdd(sumB, g);
  }
  partials[blockIdx.y * width + c] = sumW;
  partials[(gridDim.y + blockIdx.y) * width + c] = sumB;
}

// Output j (dw, then db when db is given) is the chunk sums
// partials[(j * chunks + k) * width + c] added in chunk order.
template <typename Acc>
__device__ void pgcNormGradFinish(const Acc *partials, long long chunks,
                                  long long width, void *dw, int dwType,
                                  void *db, int dbType) {
  long long stride = (long long)gridDim.x * blockDim.x;
  for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       c < width; c += stride) {
    Acc sum = 0;
    for (long long k = 0; k < chunks; ++k)
      sum = pgcAdd(sum, partials[k * width + c]);
    pgcStore(dw, dwType, c, sum);
    if (db) {
      Acc sumB = 0;
      for (long long k = 0; k < chunks; ++k)
        sumB = pgcAdd(sumB, partials[(chunks + k) * width + c]);
      pgcStore(db, dbType, c, sumB);
    }
  }
}

#define PGC_NORMS(ACC)                                                         \
  extern "C" __global__ void pgc_rms_norm_##ACC(                               \
      const void *x, int xType, const void *w, int wType, void *out,          \
      int outType, long long rows, long long width, double eps,               \
      int unitOffset) {                                                        \
    pgcRmsNorm<ACC>(x, xType, w, wType, out, outType, rows, width, eps,       \
                    unitOffset);                                               \
  }                                                                            \
  extern "C" __global__ void pgc_rms_norm_grad_rows_##ACC(                     \
      const void *x, int xType, const void *w, int wType, const void *dy,     \
      int dyType, void *dx, int dxType, ACC *stats, long long rows,           \
      long long width, double eps, int unitOffset) {                          \
    pgcRmsNormGradRows<ACC>(x, xType, w, wType, dy, dyType, dx, dxType,       \
                            stats, rows, width, eps, unitOffset);             \
  }                                                                            \
  extern "C" __global__ void pgc_rms_norm_grad_partials_##ACC(                 \
      const void *x, int xType, const void *dy, int dyType,                   \
      const ACC *stats, ACC *partials, long long rows, long long width,       \
      long long chunkRows) {                                                   \
    pgcRmsNormGradPartials<ACC>(x, xType, dy, dyType, stats, partials, rows,  \
                                width, chunkRows);                             \
  }                                                                            \
  extern "C" __global__ void pgc_layer_norm_##ACC(                             \
      const void *x, int xType, const void *w, int wType, const void *b,      \
      int bType, void *out, int outType, long long rows, long long width,     \
      double eps) {                                                            \
    pgcLayerNorm<ACC>(x, xType, w, wType, b, bType, out, outType, rows,       \
                      width, eps);                                             \
  }                                                                            \
  extern "C" __global__ void pgc_layer_norm_grad_rows_##ACC(                   \
      const void *x, int xType, const void *w, int wType, const void *dy,     \
      int dyType, void *dx, int dxType, ACC *stats, long long rows,           \
      long long width, double eps) {                                           \
    pgcLayerNormGradRows<ACC>(x, xType, w, wType, dy, dyType, dx, dxType,     \
                              stats, rows, width, eps);                        \
  }                                                                            \
  extern "C" __global__ void pgc_layer_norm_grad_partials_##ACC(               \
      const void *x, int xType, const void *dy, int dyType,                   \
      const ACC *stats, ACC *partials, long long rows, long long width,       \
      long long chunkRows) {                                                   \
    pgcLayerNormGradPartials<ACC>(x, xType, dy, dyType, stats, partials,      \
                                  rows, width, chunkRows);                     \
  }                                                                            \
  extern "C" __global__ void pgc_norm_grad_finish_##ACC(                       \
      const ACC *partials, long long chunks, long long width, void *dw,       \
      int dwType, void *db, int dbType) {                                      \
    pgcNormGradFinish<ACC>(partials, chunks, width, dw, dwType, db, dbType);  \
  }
PGC_NORMS(float)
PGC_NORMS(double)
)CUDA";

// Checks x (rank >= 1) against a per-feature parameter [D]; returns D.
int64_t featureCount(const DeviceTensor &x, const DeviceTensor &param,
                     const char *op, const char *paramName) {
  if (x.shape.empty())
    fail("{}: operand must have rank >= 1, got a scalar", op);
  int64_t width = x.shape.back();
  detail::requireShapeOf(param, {width}, op, paramName);
  detail::requireFloatOperand(param, op, paramName);
  return width;
}

const char *accSuffix(bool f64) { return f64 ? "double" : "float"; }

std::string kernelName(const char *stem, bool f64) {
  return std::string(stem) + accSuffix(f64);
}

int64_t chunkCount(int64_t rows) {
  int64_t chunk = normGradChunkRows(rows);
  return (rows + chunk - 1) / chunk;
}

LaunchShape rowShape(const Stream &stream, int64_t rows, int64_t width) {
  LaunchShape shape;
  shape.blockX = reductionThreads(width);
  shape.gridX = detail::gridFor(stream, rows, 32);
  return shape;
}

struct GradLayout {
  long long rows = 0, width = 0, chunkRows = 1, chunks = 0;
  api::CUdeviceptr stats = 0, partials = 0;
};

GradLayout gradLayout(const DeviceTensor &x, int64_t width, bool f64,
                      api::CUdeviceptr workspace, size_t workspaceBytes,
                      const char *op) {
  GradLayout layout;
  layout.width = width;
  layout.rows = width ? x.numel() / width : 0;
  layout.chunkRows = normGradChunkRows(layout.rows);
  layout.chunks = chunkCount(layout.rows);
  size_t needed = normGradWorkspaceBytes(layout.rows, width, f64);
  if (workspaceBytes < needed)
    fail("{}: the workspace has {} bytes, {} needed", op, workspaceBytes,
         needed);
  layout.stats = workspace;
  layout.partials = workspace + 2 * layout.rows * (f64 ? 8 : 4);
  return layout;
}

void launchGradTail(const Module &module, const Stream &stream,
                    GradLayout &layout, bool f64, const char *partialsStem,
                    const DeviceTensor &x, const DeviceTensor &dy,
                    const DeviceTensor &dw, const DeviceTensor *db,
                    const char *op) {
  api::CUdeviceptr xp = x.address, dyp = dy.address;
  int xType = static_cast<int>(x.dtype), dyType = static_cast<int>(dy.dtype);
  unsigned columnBlocks = static_cast<unsigned>((layout.width + 127) / 128);
  if (layout.rows > 0) {
    LaunchShape shape;
    shape.blockX = 128;
    shape.gridX = columnBlocks;
    shape.gridY = static_cast<unsigned>(layout.chunks);
    void *arguments[] = {&xp,          &xType,        &dyp,
                         &dyType,      &layout.stats, &layout.partials,
                         &layout.rows, &layout.width, &layout.chunkRows};
    launchKernel(stream, module.function(kernelName(partialsStem, f64).c_str()),
                 shape, arguments, op);
  }
  LaunchShape shape;
  shape.blockX = 128;
  shape.gridX = columnBlocks;
  api::CUdeviceptr dwp = dw.address, dbp = db ? db->address : 0;
  int dwType = static_cast<int>(dw.dtype),
      dbType = db ? static_cast<int>(db->dtype) : 0;
  void *arguments[] = {&layout.partials, &layout.chunks, &layout.width, &dwp,
                       &dwType,          &dbp,           &dbType};
  launchKernel(
      stream, module.function(kernelName("pgc_norm_grad_finish_", f64).c_str()),
      shape, arguments, op);
}

} // namespace

const KernelSource &normsSource() {
  static const KernelSource source{
      "norms.cu", std::string(detail::reductionPrelude()) + kKernels, {}};
  return source;
}

int64_t normGradChunkRows(int64_t rows) {
  // At most 128 chunks keeps the partial sums small (128 x width values) and
  // the second pass short; 16 rows at least keeps each chunk's pass useful.
  return std::max<int64_t>(16, (rows + 127) / 128);
}

size_t normGradWorkspaceBytes(int64_t rows, int64_t width, bool f64) {
  int64_t values = 2 * rows + 2 * chunkCount(rows) * width;
  return static_cast<size_t>(values) * (f64 ? 8 : 4);
}

void launchRmsNorm(const Module &module, const Stream &stream,
                   const DeviceTensor &x, const DeviceTensor &w, double eps,
                   bool unitOffset, const DeviceTensor &out) {
  const char *op = "rms_norm";
  int64_t width = featureCount(x, w, op, "weight");
  detail::requireFloatOperand(x, op, "operand");
  if (out.dtype != x.dtype)
    fail("{}: result has dtype {}, expected {}", op, dtypeName(out.dtype),
         dtypeName(x.dtype));
  detail::requireShapeOf(out, x.shape, op, "result");
  long long rows = width ? x.numel() / width : 0, cols = width;
  if (rows == 0)
    return;
  bool f64 = detail::anyF64({x.dtype, w.dtype});
  api::CUdeviceptr xp = x.address, wp = w.address, outp = out.address;
  int xType = static_cast<int>(x.dtype), wType = static_cast<int>(w.dtype),
      outType = static_cast<int>(out.dtype), unit = unitOffset ? 1 : 0;
  void *arguments[] = {&xp,      &xType, &wp,   &wType, &outp,
                       &outType, &rows,  &cols, &eps,   &unit};
  launchKernel(stream,
               module.function(kernelName("pgc_rms_norm_", f64).c_str()),
               rowShape(stream, rows, width), arguments, op);
}

void launchLayerNorm(const Module &module, const Stream &stream,
                     const DeviceTensor &x, const DeviceTensor &w,
                     const DeviceTensor &b, double eps,
                     const DeviceTensor &out) {
  const char *op = "layer_norm";
  int64_t width = featureCount(x, w, op, "weight");
  featureCount(x, b, op, "bias");
  detail::requireFloatOperand(x, op, "operand");
  if (out.dtype != x.dtype)
    fail("{}: result has dtype {}, expected {}", op, dtypeName(out.dtype),
         dtypeName(x.dtype));
  detail::requireShapeOf(out, x.shape, op, "result");
  long long rows = width ? x.numel() / width : 0, cols = width;
  if (rows == 0)
    return;
  bool f64 = detail::anyF64({x.dtype, w.dtype, b.dtype});
  api::CUdeviceptr xp = x.address, wp = w.address, bp = b.address,
                   outp = out.address;
  int xType = static_cast<int>(x.dtype), wType = static_cast<int>(w.dtype),
      bType = static_cast<int>(b.dtype), outType = static_cast<int>(out.dtype);
  void *arguments[] = {&xp,   &xType,   &wp,   &wType, &bp, &bType,
                       &outp, &outType, &rows, &cols,  &eps};
  launchKernel(stream,
               module.function(kernelName("pgc_layer_norm_", f64).c_str()),
               rowShape(stream, rows, width), arguments, op);
}

void launchRmsNormGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &x, const DeviceTensor &w,
                       const DeviceTensor &dy, double eps, bool unitOffset,
                       const DeviceTensor &dx, const DeviceTensor &dw,
                       api::CUdeviceptr workspace, size_t workspaceBytes) {
  const char *op = "rms_norm_grad";
  int64_t width = featureCount(x, w, op, "weight");
  detail::requireShapeOf(dy, x.shape, op, "dy");
  detail::requireShapeOf(dx, x.shape, op, "dx");
  detail::requireShapeOf(dw, w.shape, op, "dw");
  for (const auto &[t, name] :
       {std::pair{&x, "x"}, {&dy, "dy"}, {&dx, "dx"}, {&dw, "dw"}})
    detail::requireFloatOperand(*t, op, name);
  if (width == 0)
    return;
  bool f64 = detail::anyF64({x.dtype, w.dtype, dy.dtype, dx.dtype, dw.dtype});
  GradLayout layout = gradLayout(x, width, f64, workspace, workspaceBytes, op);
  if (layout.rows > 0) {
    api::CUdeviceptr xp = x.address, wp = w.address, dyp = dy.address,
                     dxp = dx.address;
    int xType = static_cast<int>(x.dtype), wType = static_cast<int>(w.dtype),
        dyType = static_cast<int>(dy.dtype),
        dxType = static_cast<int>(dx.dtype), unit = unitOffset ? 1 : 0;
    void *arguments[] = {&xp,           &xType,       &wp,           &wType,
                         &dyp,          &dyType,      &dxp,          &dxType,
                         &layout.stats, &layout.rows, &layout.width, &eps,
                         &unit};
    launchKernel(
        stream,
        module.function(kernelName("pgc_rms_norm_grad_rows_", f64).c_str()),
        rowShape(stream, layout.rows, width), arguments, op);
  }
  launchGradTail(module, stream, layout, f64, "pgc_rms_norm_grad_partials_", x,
                 dy, dw, nullptr, op);
}

void launchLayerNormGrad(const Module &module, const Stream &stream,
                         const DeviceTensor &x, const DeviceTensor &w,
                         const DeviceTensor &dy, double eps,
                         const DeviceTensor &dx, const DeviceTensor &dw,
                         const DeviceTensor &db, api::CUdeviceptr workspace,
                         size_t workspaceBytes) {
  const char *op = "layer_norm_grad";
  int64_t width = featureCount(x, w, op, "weight");
  detail::requireShapeOf(dy, x.shape, op, "dy");
  detail::requireShapeOf(dx, x.shape, op, "dx");
  detail::requireShapeOf(dw, w.shape, op, "dw");
  detail::requireShapeOf(db, w.shape, op, "db");
  for (const auto &[t, name] :
       {std::pair{&x, "x"}, {&dy, "dy"}, {&dx, "dx"}, {&dw, "dw"}, {&db, "db"}})
    detail::requireFloatOperand(*t, op, name);
  if (width == 0)
    return;
  bool f64 = detail::anyF64(
      {x.dtype, w.dtype, dy.dtype, dx.dtype, dw.dtype, db.dtype});
  GradLayout layout = gradLayout(x, width, f64, workspace, workspaceBytes, op);
  if (layout.rows > 0) {
    api::CUdeviceptr xp = x.address, wp = w.address, dyp = dy.address,
                     dxp = dx.address;
    int xType = static_cast<int>(x.dtype), wType = static_cast<int>(w.dtype),
        dyType = static_cast<int>(dy.dtype),
        dxType = static_cast<int>(dx.dtype);
    void *arguments[] = {&xp,           &xType,       &wp,           &wType,
                         &dyp,          &dyType,      &dxp,          &dxType,
                         &layout.stats, &layout.rows, &layout.width, &eps};
    launchKernel(
        stream,
        module.function(kernelName("pgc_layer_norm_grad_rows_", f64).c_str()),
        rowShape(stream, layout.rows, width), arguments, op);
  }
  launchGradTail(module, stream, layout, f64, "pgc_layer_norm_grad_partials_",
                 x, dy, dw, &db, op);
}

} // namespace pgc::cuda
