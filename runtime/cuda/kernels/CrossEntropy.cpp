// cross_entropy and cross_entropy_grad on the GPU: the CPU kernel's
// per-row formula (runtime/cpu/CrossEntropy.cpp) with deterministic sums and
// labels checked on the device.
#include "runtime/cuda/kernels/Layout.h"
#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/cuda/kernels/RopeLoss.h"

#include "runtime/support/Error.h"

#include <string>

namespace pgc::cuda {
namespace {

// Three steps, each deterministic (no float atomics):
//   1. count (one block): how many labels count (neither the ignore index nor
//      out of range), an integer sum; an out-of-range label's position goes
//      to the check word by atomicMin, so the lowest one, the CPU's, wins;
//   2. rows (one block per row): logsumexp as the CPU writes it, max then
//      sum of exp(x - max) (each thread a strided slice in index order, then
//      the fixed butterfly of pgcBlockReduce), lse = max + log(total); the
//      loss kernel stores lse - x[label] per row (0 for a row that does not
//      count), the gradient kernel exp(x - lse) * perRow, minus perRow at
//      the label (zeros for a row that does not count);
//   3. mean (loss only, one block): the row losses summed in the same fixed
//      order, divided by the count (0 when none counts, as the CPU).
// The workspace holds the count (u64) at offset 0, then the row losses.
const char *const kKernels = R"CUDA(
__device__ __forceinline__ float pgcLog(float a) { return logf(a); }
__device__ __forceinline__ double pgcLog(double a) { return log(a); }

template <typename Id>
__device__ void pgcCountLabels(const Id *labels, long long rows,
                               long long vocab, long long ignore,
                               unsigned long long *counted,
                               unsigned long long *bad) {
  __shared__ unsigned long long scratch[32];
  unsigned long long n = 0;
  for (long long i = threadIdx.x; i < rows; i += blockDim.x) {
    long long label = (long long)labels[i];
    if (label == ignore)
      continue;
    if (label < 0 || label >= vocab)
      atomicMin(bad, (unsigned long long)i);
    else
      ++n;
  }
  n = pgcBlockReduce(n, scratch, 0ull, PgcSum());
  if (threadIdx.x == 0)
    *counted = n;
}

// Every thread of the block returns the row's logsumexp.
template <typename Acc>
__device__ Acc pgcLogSumExp(const void *logits, int type, long long base,
                            long long vocab, Acc *scratch) {
  Acc maximum = pgcNegInf<Acc>();
  for (long long c = threadIdx.x; c < vocab; c += blockDim.x)
    maximum = pgcFmax(maximum, pgcLoad<Acc>(logits, type, base + c));
  maximum = pgcBlockReduce(maximum, scratch, pgcNegInf<Acc>(), PgcFmax());
  Acc total = 0;
  for (long long c = threadIdx.x; c < vocab; c += blockDim.x)
    total = pgcAdd(total,
                   pgcExp(pgcSub(pgcLoad<Acc>(logits, type, base + c), maximum)));
  total = pgcBlockReduce(total, scratch, Acc(0), PgcSum());
  return pgcAdd(maximum, pgcLog(total));
}

template <typename Id>
__device__ __forceinline__ bool pgcCounts(const Id *labels, long long r,
                                          long long vocab, long long ignore,
                                          long long &label) {
  label = (long long)labels[r];
  return label != ignore && label >= 0 && label < vocab;
}

template <typename Acc, typename Id>
__device__ void pgcCrossEntropyRows(const void *logits, int type,
                                    const Id *labels, long long rows,
                                    long long vocab, long long ignore,
                                    Acc *rowLoss) {
  __shared__ Acc scratch[32];
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long label;
    Acc loss = 0;
    if (pgcCounts(labels, r, vocab, ignore, label)) {
      Acc lse = pgcLogSumExp<Acc>(logits, type, r * vocab, vocab, scratch);
      loss = pgcSub(lse, pgcLoad<Acc>(logits, type, r * vocab + label));
    }
    if (threadIdx.x == 0)
      rowLoss[r] = loss;
  }
}

template <typename Acc>
__device__ void pgcCrossEntropyMean(const Acc *rowLoss,
                                    const unsigned long long *counted,
                                    long long rows, void *out, int outType) {
  __shared__ Acc scratch[32];
  Acc total = 0;
  for (long long r = threadIdx.x; r < rows; r += blockDim.x)
    total = pgcAdd(total, rowLoss[r]);
  total = pgcBlockReduce(total, scratch, Acc(0), PgcSum());
  if (threadIdx.x == 0) {
    long long n = (long long)*counted;
    pgcStore(out, outType, 0, n ? pgcDiv(total, (Acc)n) : Acc(0));
  }
}

template <typename Acc, typename Id>
__device__ void pgcCrossEntropyGrad(const void *logits, int type,
                                    const Id *labels, long long rows,
                                    long long vocab, long long ignore,
                                    const void *dloss, int dlossType,
                                    const unsigned long long *counted,
                                    void *dlogits, int dType) {
  __shared__ Acc scratch[32];
  long long n = (long long)*counted;
  Acc perRow = n ? pgcDiv(pgcLoad<Acc>(dloss, dlossType, 0), (Acc)n) : Acc(0);
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    long long label, base = r * vocab;
    if (!pgcCounts(labels, r, vocab, ignore, label)) {
      for (long long c = threadIdx.x; c < vocab; c += blockDim.x)
        pgcStore(dlogits, dType, base + c, Acc(0));
      continue;
    }
    Acc lse = pgcLogSumExp<Acc>(logits, type, base, vocab, scratch);
    for (long long c = threadIdx.x; c < vocab; c += blockDim.x) {
      Acc g = pgcMul(pgcExp(pgcSub(pgcLoad<Acc>(logits, type, base + c), lse)),
                     perRow);
      if (c == label)
        g = pgcSub(g, perRow);
      pgcStore(dlogits, dType, base + c, g);
    }
  }
}

#define PGC_CE_COUNT(ID, IT)                                                   \
  extern "C" __global__ void pgc_cross_entropy_count_##ID(                     \
      const IT *labels, long long rows, long long vocab, long long ignore,    \
      unsigned long long *counted, unsigned long long *bad) {                  \
    pgcCountLabels<IT>(labels, rows, vocab, ignore, counted, bad);             \
  }
#define PGC_CE(ACC, ID, IT)                                                    \
  extern "C" __global__ void pgc_cross_entropy_rows_##ACC##_##ID(              \
      const void *logits, int type, const IT *labels, long long rows,         \
      long long vocab, long long ignore, ACC *rowLoss) {                       \
    pgcCrossEntropyRows<ACC, IT>(logits, type, labels, rows, vocab, ignore,   \
                                 rowLoss);                                     \
  }                                                                            \
  extern "C" __global__ void pgc_cross_entropy_grad_##ACC##_##ID(              \
      const void *logits, int type, const IT *labels, long long rows,         \
      long long vocab, long long ignore, const void *dloss, int dlossType,    \
      const unsigned long long *counted, void *dlogits, int dType) {           \
    pgcCrossEntropyGrad<ACC, IT>(logits, type, labels, rows, vocab, ignore,   \
                                 dloss, dlossType, counted, dlogits, dType);   \
  }
#define PGC_CE_MEAN(ACC)                                                       \
  extern "C" __global__ void pgc_cross_entropy_mean_##ACC(                     \
      const ACC *rowLoss, const unsigned long long *counted, long long rows,  \
      void *out, int outType) {                                                \
    pgcCrossEntropyMean<ACC>(rowLoss, counted, rows, out, outType);            \
  }
PGC_CE_COUNT(i32, int)
PGC_CE_COUNT(i64, long long)
PGC_CE(float, i32, int)
PGC_CE(float, i64, long long)
PGC_CE(double, i32, int)
PGC_CE(double, i64, long long)
PGC_CE_MEAN(float)
PGC_CE_MEAN(double)
)CUDA";

// Labels' shape: logits' without the last dim.
int64_t rowCount(const DeviceTensor &logits) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < logits.rank(); ++d)
    rows *= logits.shape[d];
  return rows;
}

// runtime/cpu/CrossEntropy.cpp's checkLabels up to the label values, which
// the device checks.
void checkLogitsAndLabels(const DeviceTensor &logits,
                          const DeviceTensor &labels, const char *op) {
  detail::requireFloatOperand(logits, op, "logits");
  if (logits.rank() < 1)
    fail("{}: logits must have rank >= 1, got a scalar", op);
  Shape rowShape(logits.shape.begin(), logits.shape.end() - 1);
  detail::requireShapeOf(labels, rowShape, op, "labels");
  if (labels.dtype != DType::I32 && labels.dtype != DType::I64)
    fail("{}: labels must be i32 or i64, got {}", op, dtypeName(labels.dtype));
}

void requireWorkspace(api::CUdeviceptr workspace, size_t workspaceBytes,
                      size_t needed, const char *op) {
  if (workspace % 8 != 0 || (needed > 0 && workspace == 0))
    fail("{}: the workspace must be an 8-byte aligned device address", op);
  if (workspaceBytes < needed)
    fail("{}: the workspace has {} bytes, {} needed", op, workspaceBytes,
         needed);
}

// Resets the check word and launches the count (step 1) into the
// workspace's first 8 bytes.
LabelCheck startLabels(const Module &module, const Stream &stream,
                       const DeviceTensor &logits, const DeviceTensor &labels,
                       int64_t ignoreIndex, api::CUdeviceptr workspace,
                       api::CUdeviceptr labelWord, const char *op) {
  if (labelWord == 0 || labelWord % 8 != 0)
    fail("{}: the label word must be an 8-byte aligned device address", op);
  fillBytes(stream, labelWord, 0xff, 8);
  LabelCheck check{labelWord, labels, logits.dim(-1), ignoreIndex, op};
  long long rows = labels.numel(), vocab = logits.dim(-1), ignore = ignoreIndex;
  api::CUdeviceptr lp = labels.address, counted = workspace, bad = labelWord;
  void *arguments[] = {&lp, &rows, &vocab, &ignore, &counted, &bad};
  LaunchShape shape;
  shape.blockX = reductionThreads(rows);
  std::string name = std::string("pgc_cross_entropy_count_") +
                     (labels.dtype == DType::I32 ? "i32" : "i64");
  launchKernel(stream, module.function(name.c_str()), shape, arguments, op);
  return check;
}

std::string kernelName(const char *stem, bool f64, const DeviceTensor &labels) {
  return std::string(stem) + (f64 ? "double" : "float") +
         (labels.dtype == DType::I32 ? "_i32" : "_i64");
}

LaunchShape rowShape(const Stream &stream, int64_t rows, int64_t vocab) {
  LaunchShape shape;
  shape.blockX = reductionThreads(vocab);
  shape.gridX = detail::gridFor(stream, rows, 32);
  return shape;
}

} // namespace

const KernelSource &crossEntropySource() {
  static const KernelSource source{"cross_entropy.cu",
                                   std::string(detail::reductionPrelude()) +
                                       kKernels,
                                   {}};
  return source;
}

void LabelCheck::verify(const Stream &stream) const {
  if (auto flagged = firstFlaggedId(stream, word, labels))
    fail("{}: label {} at position {} is outside [0, {}) and is not the "
         "ignore index {}",
         op, flagged->second, flagged->first, vocab, ignoreIndex);
}

void validateCrossEntropy(const DeviceTensor &logits,
                          const DeviceTensor &labels, const DeviceTensor &out) {
  const char *op = "cross_entropy";
  checkLogitsAndLabels(logits, labels, op);
  DType expected = logits.dtype == DType::F64 ? DType::F64 : DType::F32;
  if (out.dtype != expected)
    fail("{}: result has dtype {}, expected {}", op, dtypeName(out.dtype),
         dtypeName(expected));
  detail::requireShapeOf(out, {}, op, "result");
}

void validateCrossEntropyGrad(const DeviceTensor &logits,
                              const DeviceTensor &labels,
                              const DeviceTensor &dloss,
                              const DeviceTensor &dlogits) {
  const char *op = "cross_entropy_grad";
  checkLogitsAndLabels(logits, labels, op);
  detail::requireShapeOf(dloss, {}, op, "dloss");
  detail::requireFloatOperand(dloss, op, "dloss");
  detail::requireShapeOf(dlogits, logits.shape, op, "dlogits");
  detail::requireFloatOperand(dlogits, op, "dlogits");
}

size_t crossEntropyWorkspaceBytes(const DeviceTensor &logits) {
  size_t rows = static_cast<size_t>(rowCount(logits));
  return 8 + rows * (logits.dtype == DType::F64 ? 8 : 4);
}

size_t crossEntropyGradWorkspaceBytes() { return 8; }

LabelCheck launchCrossEntropy(const Module &module, const Stream &stream,
                              const DeviceTensor &logits,
                              const DeviceTensor &labels, int64_t ignoreIndex,
                              const DeviceTensor &out,
                              api::CUdeviceptr workspace, size_t workspaceBytes,
                              api::CUdeviceptr labelWord) {
  const char *op = "cross_entropy";
  validateCrossEntropy(logits, labels, out);
  requireWorkspace(workspace, workspaceBytes,
                   crossEntropyWorkspaceBytes(logits), op);
  bool f64 = logits.dtype == DType::F64;
  // The count and the mean run even without rows: the loss is then 0.
  LabelCheck check = startLabels(module, stream, logits, labels, ignoreIndex,
                                 workspace, labelWord, op);
  long long rows = labels.numel(), vocab = logits.dim(-1), ignore = ignoreIndex;
  api::CUdeviceptr xp = logits.address, lp = labels.address,
                   counted = workspace, rowLoss = workspace + 8,
                   outp = out.address;
  int type = static_cast<int>(logits.dtype),
      outType = static_cast<int>(out.dtype);
  if (rows > 0) {
    void *arguments[] = {&xp, &type, &lp, &rows, &vocab, &ignore, &rowLoss};
    launchKernel(
        stream,
        module.function(
            kernelName("pgc_cross_entropy_rows_", f64, labels).c_str()),
        rowShape(stream, rows, vocab), arguments, op);
  }
  void *arguments[] = {&rowLoss, &counted, &rows, &outp, &outType};
  LaunchShape shape;
  shape.blockX = reductionThreads(rows);
  std::string mean =
      std::string("pgc_cross_entropy_mean_") + (f64 ? "double" : "float");
  launchKernel(stream, module.function(mean.c_str()), shape, arguments, op);
  return check;
}

LabelCheck
launchCrossEntropyGrad(const Module &module, const Stream &stream,
                       const DeviceTensor &logits, const DeviceTensor &labels,
                       int64_t ignoreIndex, const DeviceTensor &dloss,
                       const DeviceTensor &dlogits, api::CUdeviceptr workspace,
                       size_t workspaceBytes, api::CUdeviceptr labelWord) {
  const char *op = "cross_entropy_grad";
  validateCrossEntropyGrad(logits, labels, dloss, dlogits);
  requireWorkspace(workspace, workspaceBytes, crossEntropyGradWorkspaceBytes(),
                   op);
  long long rows = labels.numel(), vocab = logits.dim(-1), ignore = ignoreIndex;
  LabelCheck check = startLabels(module, stream, logits, labels, ignoreIndex,
                                 workspace, labelWord, op);
  if (rows == 0 || vocab == 0)
    return check; // nothing to write; the labels are still checked
  bool f64 = detail::anyF64({logits.dtype, dloss.dtype, dlogits.dtype});
  api::CUdeviceptr xp = logits.address, lp = labels.address, dp = dloss.address,
                   counted = workspace, gp = dlogits.address;
  int type = static_cast<int>(logits.dtype),
      dlossType = static_cast<int>(dloss.dtype),
      dType = static_cast<int>(dlogits.dtype);
  void *arguments[] = {&xp, &type,      &lp,      &rows, &vocab, &ignore,
                       &dp, &dlossType, &counted, &gp,   &dType};
  launchKernel(stream,
               module.function(
                   kernelName("pgc_cross_entropy_grad_", f64, labels).c_str()),
               rowShape(stream, rows, vocab), arguments, op);
  return check;
}

} // namespace pgc::cuda
