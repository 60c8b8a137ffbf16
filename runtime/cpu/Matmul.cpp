// Batched matmul: an obviously correct naive path and an OpenBLAS sgemm/dgemm
// path for large products.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>

#ifdef PGC_CPU_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace pgc::cpu {
namespace {

// Below this many multiply-adds the naive loops are fast enough and BLAS's
// set-up cost is not worth paying.
constexpr int64_t kBlasMinMultiplyAdds = 32 * 32 * 32;

struct MatmulDims {
  int64_t batch = 1, m = 0, k = 0, n = 0;
  bool sharedB = false; // b is one [K, N] matrix used by every batch.
};

MatmulDims checkMatmul(const Tensor &a, const Tensor &b, bool transposeA,
                       bool transposeB, const Tensor &out) {
  if (a.rank() < 2 || b.rank() < 2)
    fail("matmul: operands need rank >= 2, got {} and {}",
         formatShape(a.shape()), formatShape(b.shape()));
  requireFloat(a, "matmul", "lhs");
  requireFloat(b, "matmul", "rhs");
  MatmulDims dims;
  dims.m = transposeA ? a.dim(-1) : a.dim(-2);
  dims.k = transposeA ? a.dim(-2) : a.dim(-1);
  int64_t bK = transposeB ? b.dim(-1) : b.dim(-2);
  dims.n = transposeB ? b.dim(-2) : b.dim(-1);
  if (bK != dims.k)
    fail("matmul: contraction sizes differ: lhs {} gives K={}, rhs {} gives "
         "K={}",
         formatShape(a.shape()), dims.k, formatShape(b.shape()), bK);
  Shape batchShape(a.shape().begin(), a.shape().end() - 2);
  dims.sharedB = b.rank() == 2 && a.rank() > 2;
  if (!dims.sharedB) {
    Shape bBatch(b.shape().begin(), b.shape().end() - 2);
    if (bBatch != batchShape)
      fail("matmul: batch dims differ: lhs {} and rhs {}",
           formatShape(a.shape()), formatShape(b.shape()));
  }
  dims.batch = numElements(batchShape);
  Shape expected = batchShape;
  expected.push_back(dims.m);
  expected.push_back(dims.n);
  requireShape(out, expected, "matmul", "result");
  requireFloat(out, "matmul", "result");
  return dims;
}

// out[i, j] = sum over k of A[i, k] * B[k, j], k ascending. Operands are
// first copied into row-major A [M, K] and B^T [N, K] so that the innermost
// loop reads both contiguously whatever the transposes.
template <typename Acc>
void matmulNaive(const Tensor &a, const Tensor &b, bool transposeA,
                 bool transposeB, const MatmulDims &d, Tensor &out) {
  FloatInput<Acc> fa(a, "matmul", "lhs"), fb(b, "matmul", "rhs");
  FloatOutput<Acc> fo(out, "matmul", "result");
  int64_t bBatches = d.sharedB ? 1 : d.batch;
  std::vector<Acc> aRows(static_cast<size_t>(d.batch * d.m * d.k));
  std::vector<Acc> bCols(static_cast<size_t>(bBatches * d.n * d.k));
  for (int64_t p = 0; p < d.batch; ++p)
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t kk = 0; kk < d.k; ++kk)
        aRows[(p * d.m + i) * d.k + kk] =
            fa[p * d.m * d.k + (transposeA ? kk * d.m + i : i * d.k + kk)];
  for (int64_t p = 0; p < bBatches; ++p)
    for (int64_t j = 0; j < d.n; ++j)
      for (int64_t kk = 0; kk < d.k; ++kk)
        bCols[(p * d.n + j) * d.k + kk] =
            fb[p * d.k * d.n + (transposeB ? j * d.k + kk : kk * d.n + j)];

  parallelFor(d.batch * d.m, grainFor(d.n * d.k),
              [&](int64_t begin, int64_t end) {
                for (int64_t row = begin; row < end; ++row) {
                  int64_t p = row / d.m;
                  const Acc *aRow = &aRows[row * d.k];
                  const Acc *bBase = &bCols[(d.sharedB ? 0 : p) * d.n * d.k];
                  for (int64_t j = 0; j < d.n; ++j) {
                    const Acc *bCol = bBase + j * d.k;
                    Acc sum = 0;
                    for (int64_t kk = 0; kk < d.k; ++kk)
                      sum += aRow[kk] * bCol[kk];
                    fo[row * d.n + j] = sum;
                  }
                }
              });
  fo.commit();
}

#ifdef PGC_CPU_HAVE_OPENBLAS
} // namespace
} // namespace pgc::cpu

// Declared weak so that a CBLAS without OpenBLAS's extensions still links.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace pgc::cpu {
namespace {

// OpenBLAS's own threads spin in sched_yield between calls and fight the
// pool of parallelFor for the cores; every gemm is split by parallelFor
// instead, so OpenBLAS runs single-threaded.
void makeBlasSingleThreaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_set_num_threads)
      openblas_set_num_threads(1);
  });
}

// Rows of the result per gemm call: about 2^20 multiply-adds, at least 64
// rows. It depends only on the problem's shape, so the calls, and with them
// the bits of the result, do not depend on the thread count.
int64_t gemmRowsPerChunk(const MatmulDims &d) {
  int64_t rows = (int64_t(1) << 20) / std::max<int64_t>(d.n * d.k, 1);
  return std::max<int64_t>(rows, 64);
}

// Row blocks of each batch's product, one gemm call per block;
// bf16/f16 operands are widened to f32 first (an exact step), so the product
// still accumulates in f32. With a shared b and an untransposed a, the
// batches are one [batch * M, K] matrix and are cut as one.
template <typename Acc>
void matmulBlas(const Tensor &a, const Tensor &b, bool transposeA,
                bool transposeB, const MatmulDims &d, Tensor &out) {
  makeBlasSingleThreaded();
  FloatInput<Acc> fa(a, "matmul", "lhs"), fb(b, "matmul", "rhs");
  FloatOutput<Acc> fo(out, "matmul", "result");
  CBLAS_TRANSPOSE ta = transposeA ? CblasTrans : CblasNoTrans;
  CBLAS_TRANSPOSE tb = transposeB ? CblasTrans : CblasNoTrans;
  int lda = static_cast<int>(transposeA ? d.m : d.k);
  int ldb = static_cast<int>(transposeB ? d.k : d.n);
  int ldc = static_cast<int>(d.n);
  bool foldBatches = d.sharedB && !transposeA;
  int64_t batches = foldBatches ? 1 : d.batch;
  int64_t rowsPerBatch = foldBatches ? d.batch * d.m : d.m;
  int64_t rowsPerChunk = std::min(gemmRowsPerChunk(d), rowsPerBatch);
  int64_t chunksPerBatch = (rowsPerBatch + rowsPerChunk - 1) / rowsPerChunk;
  parallelFor(batches * chunksPerBatch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      int64_t p = chunk / chunksPerBatch;
      int64_t row = (chunk % chunksPerBatch) * rowsPerChunk;
      int rows = static_cast<int>(std::min(rowsPerChunk, rowsPerBatch - row));
      // Row `row` of op(a) starts at column `row` of a stored transposed.
      const Acc *pa =
          fa.data() + p * d.m * d.k + (transposeA ? row : row * d.k);
      const Acc *pb = fb.data() + (d.sharedB ? 0 : p * d.k * d.n);
      Acc *pc = fo.data() + p * d.m * d.n + row * d.n;
      if constexpr (std::is_same_v<Acc, double>)
        cblas_dgemm(CblasRowMajor, ta, tb, rows, static_cast<int>(d.n),
                    static_cast<int>(d.k), 1.0, pa, lda, pb, ldb, 0.0, pc, ldc);
      else
        cblas_sgemm(CblasRowMajor, ta, tb, rows, static_cast<int>(d.n),
                    static_cast<int>(d.k), 1.0f, pa, lda, pb, ldb, 0.0f, pc,
                    ldc);
    }
  });
  fo.commit();
}
#endif

bool blasAllowedByEnvironment() {
  const char *env = std::getenv("PGC_CPU_BLAS");
  return !(env && std::strcmp(env, "0") == 0);
}

} // namespace

bool blasAvailable() {
#ifdef PGC_CPU_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

void matmul(const Tensor &a, const Tensor &b, bool transposeA, bool transposeB,
            Tensor &out, MatmulPath path) {
  MatmulDims d = checkMatmul(a, b, transposeA, transposeB, out);
  bool f64 = anyF64({a.dtype(), b.dtype(), out.dtype()});
  bool empty = d.m == 0 || d.n == 0 || d.k == 0 || d.batch == 0;
  bool useBlas = false;
  if (path == MatmulPath::Blas) {
    if (!blasAvailable())
      fail("matmul: the BLAS path was requested but pgc_cpu was built "
           "without OpenBLAS");
    useBlas = !empty;
  } else if (path == MatmulPath::Auto) {
    useBlas = blasAvailable() && !empty && blasAllowedByEnvironment() &&
              d.m * d.n * d.k >= kBlasMinMultiplyAdds;
  }
  if (d.m > INT32_MAX || d.n > INT32_MAX || d.k > INT32_MAX)
    useBlas = false; // cblas takes int dimensions.
#ifdef PGC_CPU_HAVE_OPENBLAS
  if (useBlas) {
    if (f64)
      return matmulBlas<double>(a, b, transposeA, transposeB, d, out);
    return matmulBlas<float>(a, b, transposeA, transposeB, d, out);
  }
#endif
  if (f64)
    return matmulNaive<double>(a, b, transposeA, transposeB, d, out);
  matmulNaive<float>(a, b, transposeA, transposeB, d, out);
}

} // namespace pgc::cpu
