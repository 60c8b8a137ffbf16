// attention and attention_grad on the GPU: the CPU kernel's formula and
// summation orders (runtime/cpu/Attention.cpp), one block per tile of query
// rows that share a kv head, and one thread per dK/dV column over a tile of
// keys.
#include "runtime/cuda/kernels/Attention.h"

#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <string>

namespace pgc::cuda {
namespace {

// Query rows of one kv plane ([b, kv head]) are contiguous: the group's
// query heads in order, each with its L positions, so a tile of
// PGC_ATTN_ROWS consecutive rows of a plane shares every key and value row.
// Scores, probabilities and score gradients live in the workspace as
// [rows, S] of the compute type; a block writes only its tile's rows and
// reads them back after __syncthreads / __syncwarp, which order global
// memory within a block.
//
// Orders, all the CPU's: a score sums q[e] k[s, e] over e from +0; the max is
// exact in any order (fmax drops NaN, and a +0/-0 tie cannot change
// exp(x - max)); the total sums exp(x - max) over s by one lane; the output
// sums p[s] v[s, e] over s, one thread per e. Gradient: dP as the scores,
// the weighted sum of dP p over s by one lane, dq as the output, and dK/dV
// over the plane's rows in order, one thread per (key, column).
const char *const kKernels = R"CUDA(
#define PGC_ATTN_ROWS 8
#define PGC_ATTN_KEYS 8
#define PGC_ATTN_CHUNK 64
// The most threads the launchers give a block (rowThreads, and the dK/dV
// kernel's 256). Without the bound the compiler may use more registers than
// 65536 / 512 (the f64 row kernels take 132-136 on sm_90), and a launch of
// 512 threads (keys or head dims above 480) fails for lack of registers.
#define PGC_ATTN_ROW_THREADS 512
#define PGC_ATTN_KEY_THREADS 256

// Mirrors AttentionShape's leading fields (all 8-byte, same order).
struct PgcAttentionDims {
  long long batch, queryHeads, kvHeads, queryLength, keyLength, headDim,
      valueDim, maskBatchStride, maskHeadStride;
};

// out(r, s, dot) for every row r < rows of the tile and key s < keys, where
// dot = sum over e of a[row0 + r, e] * b[keyRow0 + s, e] (width columns), in
// e order from +0. The tile's a rows are staged in shared memory in chunks;
// each thread owns one key per pass and keeps the tile's dot products.
template <typename Acc, typename Out>
__device__ void pgcTileDots(const void *a, int aType, const void *b, int bType,
                            long long width, long long row0, int rows,
                            long long keyRow0, long long keys, Out out) {
  __shared__ Acc staged[PGC_ATTN_ROWS][PGC_ATTN_CHUNK];
  for (long long s0 = 0; s0 < keys; s0 += blockDim.x) {
    long long s = s0 + threadIdx.x;
    Acc acc[PGC_ATTN_ROWS];
#pragma unroll
    for (int r = 0; r < PGC_ATTN_ROWS; ++r)
      acc[r] = 0;
    for (long long e0 = 0; e0 < width; e0 += PGC_ATTN_CHUNK) {
      int chunk = (int)min((long long)PGC_ATTN_CHUNK, width - e0);
      __syncthreads(); // the previous chunk may still be read
      for (int i = threadIdx.x; i < PGC_ATTN_ROWS * chunk; i += blockDim.x) {
        int r = i / chunk, c = i % chunk;
        staged[r][c] =
            r < rows ? pgcLoad<Acc>(a, aType, (row0 + r) * width + e0 + c)
                     : Acc(0);
      }
      __syncthreads();
      if (s < keys) {
        long long base = (keyRow0 + s) * width + e0;
        for (int c = 0; c < chunk; ++c) {
          Acc kv = pgcLoad<Acc>(b, bType, base + c);
#pragma unroll
          for (int r = 0; r < PGC_ATTN_ROWS; ++r)
            acc[r] = pgcAdd(acc[r], pgcMul(staged[r][c], kv));
        }
      }
    }
    if (s < keys) {
#pragma unroll
      for (int r = 0; r < PGC_ATTN_ROWS; ++r)
        if (r < rows)
          out(r, s, acc[r]);
    }
  }
}

// out(r, e, sum) for every row r < rows and column e < width, where sum =
// sum over s of w[(row0 + r) * keys + s] * b[keyRow0 + s, e], in s order
// from +0: one thread per column, reading b coalesced.
template <typename Acc, typename Out>
__device__ void pgcTileWeightedSums(const Acc *w, long long row0, int rows,
                                    long long keys, const void *b, int bType,
                                    long long keyRow0, long long width,
                                    Out out) {
  for (long long e = threadIdx.x; e < width; e += blockDim.x) {
    Acc acc[PGC_ATTN_ROWS];
#pragma unroll
    for (int r = 0; r < PGC_ATTN_ROWS; ++r)
      acc[r] = 0;
    for (long long s = 0; s < keys; ++s) {
      Acc bv = pgcLoad<Acc>(b, bType, (keyRow0 + s) * width + e);
#pragma unroll
      for (int r = 0; r < PGC_ATTN_ROWS; ++r)
        if (r < rows)
          acc[r] = pgcAdd(acc[r], pgcMul(w[(row0 + r) * keys + s], bv));
    }
#pragma unroll
    for (int r = 0; r < PGC_ATTN_ROWS; ++r)
      if (r < rows)
        out(r, e, acc[r]);
  }
}

// The tile's masked, scaled scores into p, then each row's softmax in place
// (one warp per row); a row with every key masked becomes all zeros.
template <typename Acc>
__device__ void pgcTileProbabilities(const void *q, int qType, const void *k,
                                     int kType, const void *mask, int maskKind,
                                     int maskType, const PgcAttentionDims &d,
                                     Acc scale, long long row0, int rows,
                                     long long keyRow0, Acc *p) {
  long long S = d.keyLength;
  pgcTileDots<Acc>(
      q, qType, k, kType, d.headDim, row0, rows, keyRow0, S,
      [&](int r, long long s, Acc dot) {
        long long row = row0 + r;
        long long l = row % d.queryLength;
        long long h = (row / d.queryLength) % d.queryHeads;
        long long b = row / (d.queryLength * d.queryHeads);
        long long at =
            b * d.maskBatchStride + h * d.maskHeadStride + l * S + s;
        Acc x;
        if (maskKind == 1 && ((const unsigned char *)mask)[at] == 0) {
          x = pgcNegInf<Acc>();
        } else {
          x = pgcMul(scale, dot);
          if (maskKind == 2)
            x = pgcAdd(x, pgcLoad<Acc>(mask, maskType, at));
        }
        p[row * S + s] = x;
      });
  __syncthreads();
  int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int r = threadIdx.x >> 5; r < rows; r += warps) {
    Acc *x = p + (row0 + r) * S;
    Acc maximum = pgcNegInf<Acc>();
    for (long long s = lane; s < S; s += 32)
      maximum = pgcFmax(maximum, x[s]);
    for (int o = 16; o > 0; o >>= 1)
      maximum = pgcFmax(maximum, __shfl_xor_sync(0xffffffffu, maximum, o));
    if (maximum == pgcNegInf<Acc>()) {
      for (long long s = lane; s < S; s += 32)
        x[s] = 0;
      continue;
    }
    for (long long s = lane; s < S; s += 32)
      x[s] = pgcExp(pgcSub(x[s], maximum));
    __syncwarp();
    Acc total = 0;
    if (lane == 0)
      for (long long s = 0; s < S; ++s)
        total = pgcAdd(total, x[s]);
    total = __shfl_sync(0xffffffffu, total, 0);
    for (long long s = lane; s < S; s += 32)
      x[s] = pgcDiv(x[s], total);
  }
  __syncthreads();
}

template <typename Acc>
__device__ void pgcAttention(const void *q, int qType, const void *k,
                             int kType, const void *v, int vType,
                             const void *mask, int maskKind, int maskType,
                             PgcAttentionDims d, double scaleArg, void *out,
                             int outType, Acc *p) {
  Acc scale = (Acc)scaleArg;
  long long planeRows = d.queryHeads / d.kvHeads * d.queryLength;
  long long tilesPerPlane = (planeRows + PGC_ATTN_ROWS - 1) / PGC_ATTN_ROWS;
  long long tiles = d.batch * d.kvHeads * tilesPerPlane;
  for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
    long long plane = t / tilesPerPlane;
    long long first = t % tilesPerPlane * PGC_ATTN_ROWS;
    int rows = (int)min((long long)PGC_ATTN_ROWS, planeRows - first);
    long long row0 = plane * planeRows + first, keyRow0 = plane * d.keyLength;
    pgcTileProbabilities<Acc>(q, qType, k, kType, mask, maskKind, maskType, d,
                              scale, row0, rows, keyRow0, p);
    pgcTileWeightedSums<Acc>(p, row0, rows, d.keyLength, v, vType, keyRow0,
                             d.valueDim, [&](int r, long long e, Acc sum) {
                               pgcStore(out, outType,
                                        (row0 + r) * d.valueDim + e, sum);
                             });
  }
}

// Per row: dP into ds, then ds = p (dP - sum_s dP p) and
// dq = scale * sum_s ds k.
template <typename Acc>
__device__ void pgcAttentionGradRows(const void *q, int qType, const void *k,
                                     int kType, const void *v, int vType,
                                     const void *mask, int maskKind,
                                     int maskType, PgcAttentionDims d,
                                     double scaleArg, const void *dout,
                                     int doutType, void *dq, int dqType,
                                     Acc *p, Acc *ds) {
  Acc scale = (Acc)scaleArg;
  long long S = d.keyLength;
  long long planeRows = d.queryHeads / d.kvHeads * d.queryLength;
  long long tilesPerPlane = (planeRows + PGC_ATTN_ROWS - 1) / PGC_ATTN_ROWS;
  long long tiles = d.batch * d.kvHeads * tilesPerPlane;
  for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
    long long plane = t / tilesPerPlane;
    long long first = t % tilesPerPlane * PGC_ATTN_ROWS;
    int rows = (int)min((long long)PGC_ATTN_ROWS, planeRows - first);
    long long row0 = plane * planeRows + first, keyRow0 = plane * S;
    pgcTileProbabilities<Acc>(q, qType, k, kType, mask, maskKind, maskType, d,
                              scale, row0, rows, keyRow0, p);
    pgcTileDots<Acc>(dout, doutType, v, vType, d.valueDim, row0, rows, keyRow0,
                     S, [&](int r, long long s, Acc dot) {
                       ds[(row0 + r) * S + s] = dot;
                     });
    __syncthreads();
    int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int r = threadIdx.x >> 5; r < rows; r += warps) {
      const Acc *pr = p + (row0 + r) * S;
      Acc *g = ds + (row0 + r) * S;
      Acc weighted = 0;
      if (lane == 0)
        for (long long s = 0; s < S; ++s)
          weighted = pgcAdd(weighted, pgcMul(g[s], pr[s]));
      weighted = __shfl_sync(0xffffffffu, weighted, 0);
      for (long long s = lane; s < S; s += 32)
        g[s] = pgcMul(pr[s], pgcSub(g[s], weighted));
    }
    __syncthreads();
    pgcTileWeightedSums<Acc>(ds, row0, rows, S, k, kType, keyRow0, d.headDim,
                             [&](int r, long long e, Acc sum) {
                               pgcStore(dq, dqType, (row0 + r) * d.headDim + e,
                                        pgcMul(scale, sum));
                             });
  }
}

// dK[s, e] = sum over the plane's rows of (scale ds[row, s]) q[row, e] and
// dV[s, e] = sum of p[row, s] dout[row, e], rows in order: one thread per
// column e holds PGC_ATTN_KEYS keys' sums.
template <typename Acc>
__device__ void pgcAttentionGradKeys(const void *q, int qType,
                                     const void *dout, int doutType,
                                     PgcAttentionDims d, double scaleArg,
                                     const Acc *p, const Acc *ds, void *dk,
                                     int dkType, void *dv, int dvType) {
  Acc scale = (Acc)scaleArg;
  long long S = d.keyLength, D = d.headDim, Dv = d.valueDim;
  long long planeRows = d.queryHeads / d.kvHeads * d.queryLength;
  long long keyTiles = (S + PGC_ATTN_KEYS - 1) / PGC_ATTN_KEYS;
  long long tiles = d.batch * d.kvHeads * keyTiles;
  long long width = max(D, Dv);
  for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
    long long plane = t / keyTiles, s0 = t % keyTiles * PGC_ATTN_KEYS;
    int keys = (int)min((long long)PGC_ATTN_KEYS, S - s0);
    for (long long e = (long long)blockIdx.y * blockDim.x + threadIdx.x;
         e < width; e += (long long)gridDim.y * blockDim.x) {
      Acc gk[PGC_ATTN_KEYS], gv[PGC_ATTN_KEYS];
#pragma unroll
      for (int j = 0; j < PGC_ATTN_KEYS; ++j)
        gk[j] = gv[j] = 0;
      for (long long i = 0; i < planeRows; ++i) {
        long long row = plane * planeRows + i;
        Acc qe = e < D ? pgcLoad<Acc>(q, qType, row * D + e) : Acc(0);
        Acc ge = e < Dv ? pgcLoad<Acc>(dout, doutType, row * Dv + e) : Acc(0);
#pragma unroll
        for (int j = 0; j < PGC_ATTN_KEYS; ++j)
          if (j < keys) {
            long long at = row * S + s0 + j;
            gk[j] = pgcAdd(gk[j], pgcMul(pgcMul(scale, ds[at]), qe));
            gv[j] = pgcAdd(gv[j], pgcMul(p[at], ge));
          }
      }
#pragma unroll
      for (int j = 0; j < PGC_ATTN_KEYS; ++j)
        if (j < keys) {
          long long keyRow = plane * S + s0 + j;
          if (e < D)
            pgcStore(dk, dkType, keyRow * D + e, gk[j]);
          if (e < Dv)
            pgcStore(dv, dvType, keyRow * Dv + e, gv[j]);
        }
    }
  }
}

#define PGC_ATTENTION(ACC)                                                     \
  extern "C" __global__ void __launch_bounds__(PGC_ATTN_ROW_THREADS)           \
      pgc_attention_##ACC(                                                     \
      const void *q, int qType, const void *k, int kType, const void *v,       \
      int vType, const void *mask, int maskKind, int maskType,                 \
      PgcAttentionDims d, double scale, void *out, int outType, ACC *p) {      \
    pgcAttention<ACC>(q, qType, k, kType, v, vType, mask, maskKind, maskType,  \
                      d, scale, out, outType, p);                              \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(PGC_ATTN_ROW_THREADS)           \
      pgc_attention_grad_rows_##ACC(                                           \
      const void *q, int qType, const void *k, int kType, const void *v,       \
      int vType, const void *mask, int maskKind, int maskType,                 \
      PgcAttentionDims d, double scale, const void *dout, int doutType,        \
      void *dq, int dqType, ACC *p, ACC *ds) {                                 \
    pgcAttentionGradRows<ACC>(q, qType, k, kType, v, vType, mask, maskKind,    \
                              maskType, d, scale, dout, doutType, dq, dqType,  \
                              p, ds);                                          \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(PGC_ATTN_KEY_THREADS)           \
      pgc_attention_grad_keys_##ACC(                                           \
      const void *q, int qType, const void *dout, int doutType,               \
      PgcAttentionDims d, double scale, const ACC *p, const ACC *ds, void *dk, \
      int dkType, void *dv, int dvType) {                                      \
    pgcAttentionGradKeys<ACC>(q, qType, dout, doutType, d, scale, p, ds, dk,   \
                              dkType, dv, dvType);                             \
  }
PGC_ATTENTION(float)
PGC_ATTENTION(double)
)CUDA";

// The kernel's PgcAttentionDims, field for field.
struct KernelDims {
  long long batch, queryHeads, kvHeads, queryLength, keyLength, headDim,
      valueDim, maskBatchStride, maskHeadStride;
};

KernelDims kernelDims(const AttentionShape &s) {
  return {s.batch,       s.queryHeads,      s.kvHeads,
          s.queryLength, s.keyLength,       s.headDim,
          s.valueDim,    s.maskBatchStride, s.maskHeadStride};
}

void requireRankOf(const DeviceTensor &t, int64_t rank, const char *op,
                   const char *name) {
  if (t.rank() != rank)
    fail("{}: {} must have rank {}, got shape {}", op, name, rank,
         formatShape(t.shape));
}

// checkAttention of runtime/cpu/Attention.cpp.
AttentionShape checkOperands(const DeviceTensor &q, const DeviceTensor &k,
                             const DeviceTensor &v, const DeviceTensor *mask,
                             const char *op) {
  requireRankOf(q, 4, op, "q");
  requireRankOf(k, 4, op, "k");
  requireRankOf(v, 4, op, "v");
  AttentionShape d;
  d.batch = q.dim(0);
  d.queryHeads = q.dim(1);
  d.kvHeads = k.dim(1);
  d.queryLength = q.dim(2);
  d.keyLength = k.dim(2);
  d.headDim = q.dim(3);
  d.valueDim = v.dim(3);
  if (d.kvHeads == 0 || d.queryHeads % d.kvHeads != 0)
    fail("{}: {} query heads cannot share {} kv heads evenly", op, d.queryHeads,
         d.kvHeads);
  detail::requireShapeOf(k, {d.batch, d.kvHeads, d.keyLength, d.headDim}, op,
                         "k");
  detail::requireShapeOf(v, {d.batch, d.kvHeads, d.keyLength, d.valueDim}, op,
                         "v");
  detail::requireFloatOperand(q, op, "q");
  detail::requireFloatOperand(k, op, "k");
  detail::requireFloatOperand(v, op, "v");
  if (mask) {
    requireRankOf(*mask, 4, op, "mask");
    int64_t mb = mask->dim(0), mh = mask->dim(1);
    if ((mb != 1 && mb != d.batch) || (mh != 1 && mh != d.queryHeads) ||
        mask->dim(2) != d.queryLength || mask->dim(3) != d.keyLength)
      fail("{}: mask has shape {}, expected [{} or 1, {} or 1, {}, {}]", op,
           formatShape(mask->shape), d.batch, d.queryHeads, d.queryLength,
           d.keyLength);
    if (mask->dtype != DType::Bool)
      detail::requireFloatOperand(*mask, op, "mask");
    int64_t plane = d.queryLength * d.keyLength;
    d.maskHeadStride = mh == 1 ? 0 : plane;
    d.maskBatchStride = mb == 1 ? 0 : mh * plane;
  }
  d.f64 = detail::anyF64(
      {q.dtype, k.dtype, v.dtype, mask ? mask->dtype : DType::Bool});
  return d;
}

int64_t queryRows(const AttentionShape &s) {
  return s.batch * s.queryHeads * s.queryLength;
}

size_t scoreBytes(const AttentionShape &s) {
  return static_cast<size_t>(queryRows(s) * s.keyLength) * (s.f64 ? 8 : 4);
}

void requireWorkspace(size_t have, size_t need, const char *op) {
  if (have < need)
    fail("{}: the workspace has {} bytes, {} needed", op, have, need);
}

// The kernels' __launch_bounds__ (PGC_ATTN_ROW_THREADS, PGC_ATTN_KEY_THREADS):
// a launch with more threads than a kernel was compiled for fails.
constexpr int64_t kRowThreadsMax = 512, kKeyThreadsMax = 256;

// One warp per row at least for the softmax pass; a thread per key (and per
// output column) in one pass for PaliGemma's 256-272 keys.
unsigned rowThreads(const AttentionShape &s) {
  int64_t widest = std::max({s.keyLength, s.headDim, s.valueDim});
  return static_cast<unsigned>(
      std::clamp<int64_t>((widest + 31) / 32 * 32, 64, kRowThreadsMax));
}

int64_t rowTiles(const AttentionShape &s) {
  int64_t planeRows = s.queryHeads / s.kvHeads * s.queryLength;
  return s.batch * s.kvHeads *
         ((planeRows + kAttentionTileRows - 1) / kAttentionTileRows);
}

LaunchShape rowShape(const Stream &stream, const AttentionShape &s) {
  LaunchShape shape;
  shape.blockX = rowThreads(s);
  shape.gridX = detail::gridFor(stream, rowTiles(s), 8);
  return shape;
}

// The mask as the kernels take it: kind 0 none, 1 Bool, 2 additive (with
// its dtype code).
struct MaskArgument {
  api::CUdeviceptr address = 0;
  int kind = 0, dtype = 0;
};

MaskArgument maskArgument(const DeviceTensor *mask) {
  MaskArgument m;
  if (!mask)
    return m;
  m.address = mask->address;
  m.kind = mask->dtype == DType::Bool ? 1 : 2;
  m.dtype = static_cast<int>(mask->dtype);
  return m;
}

const char *accName(bool f64) { return f64 ? "double" : "float"; }

} // namespace

const KernelSource &attentionSource() {
  static const KernelSource source{
      "attention.cu", std::string(detail::reductionPrelude()) + kKernels, {}};
  return source;
}

AttentionShape validateAttention(const DeviceTensor &q, const DeviceTensor &k,
                                 const DeviceTensor &v,
                                 const DeviceTensor *mask,
                                 const DeviceTensor &out) {
  AttentionShape d = checkOperands(q, k, v, mask, "attention");
  if (out.dtype != q.dtype)
    fail("attention: result has dtype {}, expected {}", dtypeName(out.dtype),
         dtypeName(q.dtype));
  detail::requireShapeOf(out,
                         {d.batch, d.queryHeads, d.queryLength, d.valueDim},
                         "attention", "result");
  return d;
}

AttentionShape
validateAttentionGrad(const DeviceTensor &q, const DeviceTensor &k,
                      const DeviceTensor &v, const DeviceTensor *mask,
                      const DeviceTensor &dout, const DeviceTensor &dq,
                      const DeviceTensor &dk, const DeviceTensor &dv) {
  const char *op = "attention_grad";
  AttentionShape d = checkOperands(q, k, v, mask, op);
  detail::requireShapeOf(
      dout, {d.batch, d.queryHeads, d.queryLength, d.valueDim}, op, "dout");
  detail::requireShapeOf(dq, q.shape, op, "dq");
  detail::requireShapeOf(dk, k.shape, op, "dk");
  detail::requireShapeOf(dv, v.shape, op, "dv");
  // The CPU checks these as it converts them, after the shapes.
  detail::requireFloatOperand(dout, op, "dout");
  detail::requireFloatOperand(dq, op, "dq");
  detail::requireFloatOperand(dk, op, "dk");
  detail::requireFloatOperand(dv, op, "dv");
  d.f64 = d.f64 || detail::anyF64({dout.dtype, dq.dtype, dk.dtype, dv.dtype});
  return d;
}

size_t attentionWorkspaceBytes(const AttentionShape &shape) {
  return scoreBytes(shape);
}

size_t attentionGradWorkspaceBytes(const AttentionShape &shape) {
  return 2 * scoreBytes(shape);
}

void launchAttention(const Module &module, const Stream &stream,
                     const DeviceTensor &q, const DeviceTensor &k,
                     const DeviceTensor &v, const DeviceTensor *mask,
                     double scale, const DeviceTensor &out,
                     api::CUdeviceptr workspace, size_t workspaceBytes) {
  AttentionShape s = validateAttention(q, k, v, mask, out);
  requireWorkspace(workspaceBytes, attentionWorkspaceBytes(s), "attention");
  if (queryRows(s) == 0 || s.valueDim == 0)
    return;
  std::string name = std::string("pgc_attention_") + accName(s.f64);
  KernelDims dims = kernelDims(s);
  MaskArgument m = maskArgument(mask);
  api::CUdeviceptr qp = q.address, kp = k.address, vp = v.address,
                   outp = out.address, wp = workspace;
  int qType = static_cast<int>(q.dtype), kType = static_cast<int>(k.dtype),
      vType = static_cast<int>(v.dtype), outType = static_cast<int>(out.dtype);
  void *arguments[] = {&qp,    &qType,     &kp,      &kType,   &vp,
                       &vType, &m.address, &m.kind,  &m.dtype, &dims,
                       &scale, &outp,      &outType, &wp};
  launchKernel(stream, module.function(name.c_str()), rowShape(stream, s),
               arguments, "attention");
}

void launchAttentionGrad(const Module &module, const Stream &stream,
                         const DeviceTensor &q, const DeviceTensor &k,
                         const DeviceTensor &v, const DeviceTensor *mask,
                         double scale, const DeviceTensor &dout,
                         const DeviceTensor &dq, const DeviceTensor &dk,
                         const DeviceTensor &dv, api::CUdeviceptr workspace,
                         size_t workspaceBytes) {
  const char *op = "attention_grad";
  AttentionShape s = validateAttentionGrad(q, k, v, mask, dout, dq, dk, dv);
  requireWorkspace(workspaceBytes, attentionGradWorkspaceBytes(s), op);
  // Without query rows dK and dV are sums of nothing: +0, as on the CPU.
  if (queryRows(s) == 0) {
    if (dk.bytes())
      fillBytes(stream, dk.address, 0, dk.bytes());
    if (dv.bytes())
      fillBytes(stream, dv.address, 0, dv.bytes());
    return;
  }
  KernelDims dims = kernelDims(s);
  MaskArgument m = maskArgument(mask);
  api::CUdeviceptr qp = q.address, kp = k.address, vp = v.address,
                   dop = dout.address, dqp = dq.address, dkp = dk.address,
                   dvp = dv.address, pp = workspace,
                   dsp = workspace + scoreBytes(s);
  int qType = static_cast<int>(q.dtype), kType = static_cast<int>(k.dtype),
      vType = static_cast<int>(v.dtype), doType = static_cast<int>(dout.dtype),
      dqType = static_cast<int>(dq.dtype), dkType = static_cast<int>(dk.dtype),
      dvType = static_cast<int>(dv.dtype);
  std::string rows = std::string("pgc_attention_grad_rows_") + accName(s.f64);
  void *rowArguments[] = {&qp,        &qType,  &kp,      &kType, &vp,    &vType,
                          &m.address, &m.kind, &m.dtype, &dims,  &scale, &dop,
                          &doType,    &dqp,    &dqType,  &pp,    &dsp};
  launchKernel(stream, module.function(rows.c_str()), rowShape(stream, s),
               rowArguments, op);
  int64_t width = std::max(s.headDim, s.valueDim);
  if (s.keyLength == 0 || width == 0)
    return;
  std::string keys = std::string("pgc_attention_grad_keys_") + accName(s.f64);
  void *keyArguments[] = {&qp, &qType, &dop, &doType, &dims, &scale,
                          &pp, &dsp,   &dkp, &dkType, &dvp,  &dvType};
  LaunchShape shape;
  shape.blockX = static_cast<unsigned>(
      std::clamp<int64_t>((width + 31) / 32 * 32, 32, kKeyThreadsMax));
  shape.gridY = static_cast<unsigned>(
      std::min<int64_t>((width + shape.blockX - 1) / shape.blockX, 65535));
  int64_t keyTiles = (s.keyLength + kAttentionTileKeys - 1) /
                     kAttentionTileKeys * s.batch * s.kvHeads;
  shape.gridX = detail::gridFor(stream, keyTiles, 16);
  launchKernel(stream, module.function(keys.c_str()), shape, keyArguments, op);
}

} // namespace pgc::cuda
