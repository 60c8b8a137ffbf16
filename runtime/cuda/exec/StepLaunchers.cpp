// The table of GPU step launchers, and the resources they share. Each
// launcher checks its operands as the CPU kernel of the same op does
// (runtime/exec/CpuKernels.cpp) before it enqueues anything.
#include "runtime/cuda/exec/StepLaunchers.h"

#include "runtime/cuda/Nvrtc.h"
#include "runtime/cuda/kernels/Attention.h"
#include "runtime/cuda/kernels/Layout.h"
#include "runtime/cuda/kernels/Nf4Dequantize.h"
#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/cuda/kernels/RopeLoss.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/quant/DynamicMap.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <unordered_map>

namespace pgc::cuda {

StepResources::StepResources(const Context &context, const Stream &stream,
                             KernelCache &cache)
    : context_(context), stream_(stream), cache_(cache) {}

StepResources::~StepResources() = default;

Blas &StepResources::blas() {
  if (!blas_)
    blas_ = std::make_unique<Blas>(context_);
  return *blas_;
}

const Module &StepResources::module(const KernelSource &source) {
  std::unique_ptr<Module> &slot = modules_[source.name];
  if (!slot) {
    CompileTarget target = chooseTarget(context_.info().arch(),
                                        Nvrtc::instance().supportedArchs());
    slot = std::make_unique<Module>(
        context_, cache_.getOrCompile(Nvrtc::instance(), source, target));
  }
  return *slot;
}

api::CUdeviceptr StepResources::nf4DynamicMap() {
  if (!dynamicMap_) {
    const auto &map = quant::signedDynamicMap();
    dynamicMap_ = std::make_unique<DeviceBuffer>(context_, sizeof(map));
    copyToDevice(stream_, dynamicMap_->address(), map.data(), sizeof(map));
  }
  return dynamicMap_->address();
}

api::CUdeviceptr StepResources::scratch(size_t bytes) {
  if (!scratch_ || scratch_->bytes() < bytes) {
    // Work queued earlier may still use the old buffer.
    stream_.synchronize();
    scratch_.reset();
    scratch_ = std::make_unique<DeviceBuffer>(context_,
                                              std::max<size_t>(bytes, 1 << 20));
  }
  return scratch_->address();
}

api::CUdeviceptr StepResources::idWord() {
  if (!idWord_)
    idWord_ = std::make_unique<DeviceBuffer>(context_, 256);
  return idWord_->address();
}

void StepResources::setNf4Offset(api::CUdeviceptr address, float offset) {
  nf4Offsets_[address] = offset;
}

float StepResources::nf4Offset(api::CUdeviceptr address,
                               const std::string &what) const {
  auto found = nf4Offsets_.find(address);
  if (found == nf4Offsets_.end())
    fail("{}: the NF4 weight was never uploaded (CudaSession::uploadState)",
         what);
  return found->second;
}

namespace {

using Operands = std::vector<DeviceTensor>;

void expectArity(const PlanStep &step, const Operands &in, size_t inputs,
                 const Operands &out, size_t outputs) {
  if (in.size() != inputs || out.size() != outputs)
    fail("{}: expected {} inputs and {} outputs, got {} and {}", step.op,
         inputs, outputs, in.size(), out.size());
}

// cpu::matmul's contract (runtime/cpu/Matmul.cpp): [..., M, K] x [..., K, N]
// (or one [K, N] shared by every batch), transposes on the last two dims.
// cuBLASLt multiplies bf16 or f32 operands; a shared B without a transposed
// A folds the batches into M, one GEMM.
void launchMatmul(StepResources &r, const PlanStep &step, const Operands &in,
                  const Operands &out) {
  expectArity(step, in, 2, out, 1);
  const DeviceTensor &a = in[0], &b = in[1], &c = out[0];
  bool transA = step.flag("transpose_lhs"), transB = step.flag("transpose_rhs");
  if (a.rank() < 2 || b.rank() < 2)
    fail("matmul: operands need rank >= 2, got {} and {}", formatShape(a.shape),
         formatShape(b.shape));
  int64_t m = transA ? a.dim(-1) : a.dim(-2);
  int64_t k = transA ? a.dim(-2) : a.dim(-1);
  int64_t bK = transB ? b.dim(-1) : b.dim(-2);
  int64_t n = transB ? b.dim(-2) : b.dim(-1);
  if (bK != k)
    fail("matmul: contraction sizes differ: lhs {} gives K={}, rhs {} gives "
         "K={}",
         formatShape(a.shape), k, formatShape(b.shape), bK);
  Shape batchShape(a.shape.begin(), a.shape.end() - 2);
  bool sharedB = b.rank() == 2 && a.rank() > 2;
  if (!sharedB && Shape(b.shape.begin(), b.shape.end() - 2) != batchShape)
    fail("matmul: batch dims differ: lhs {} and rhs {}", formatShape(a.shape),
         formatShape(b.shape));
  Shape expected = batchShape;
  expected.push_back(m);
  expected.push_back(n);
  if (c.shape != expected)
    fail("matmul: result must be {}, got {}", formatShape(expected),
         formatShape(c.shape));
  bool bf16 = a.dtype == DType::BF16 && b.dtype == DType::BF16 &&
              (c.dtype == DType::BF16 || c.dtype == DType::F32);
  bool f32 =
      a.dtype == DType::F32 && b.dtype == DType::F32 && c.dtype == DType::F32;
  if (!bf16 && !f32)
    fail("matmul: the GPU multiplies bf16 x bf16 -> bf16/f32 or f32 x f32 -> "
         "f32, not {} x {} -> {}",
         dtypeName(a.dtype), dtypeName(b.dtype), dtypeName(c.dtype));
  int64_t batch = numElements(batchShape);
  if (m == 0 || n == 0 || batch == 0)
    return;
  if (k == 0) { // an empty sum
    fillBytes(r.stream(), c.address, 0, c.bytes());
    return;
  }
  GemmArgs args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.transA = transA;
  args.transB = transB;
  if (sharedB && !transA) {
    args.m = batch * m;
  } else {
    args.batch = batch;
    args.strideA = m * k;
    args.strideB = sharedB ? 0 : k * n;
    args.strideC = m * n;
  }
  args.inputType = a.dtype;
  args.outputType = c.dtype;
  args.a = a.address;
  args.b = b.address;
  args.c = c.address;
  r.blas().gemm(r.stream(), args);
}

// The u8 buffer of Nf4Storage.h's layout to bf16 (the CPU also writes f32;
// the GPU kernel writes bf16 only, what QLoRA's matmuls read).
void launchDequantNf4(StepResources &r, const PlanStep &step,
                      const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  const DeviceTensor &storage = in[0], &result = out[0];
  if (result.dtype != DType::BF16)
    fail("dequant_nf4: the GPU dequantizes to bf16, not {}",
         dtypeName(result.dtype));
  Nf4Layout layout{result.numel(), step.integer("block_size"),
                   step.integer("double_quant") != 0};
  if (storage.dtype != DType::U8 || storage.numel() != layout.totalBytes())
    fail("dequant_nf4: storage must be u8 [{}] for {} values, got {} {}",
         layout.totalBytes(), result.numel(), dtypeName(storage.dtype),
         formatShape(storage.shape));
  DeviceNf4Weight weight;
  weight.packed = storage.address;
  api::CUdeviceptr stats =
      storage.address + static_cast<api::CUdeviceptr>(layout.statsOffset());
  if (layout.doubleQuant) {
    weight.absmaxScales = stats;
    weight.absmaxOffset = r.nf4Offset(storage.address, step.describe());
    weight.absmaxCodes =
        stats + static_cast<api::CUdeviceptr>(4 * layout.numBlocks2() + 4);
    weight.dynamicMap = r.nf4DynamicMap();
  } else {
    weight.absmax = stats;
  }
  weight.doubleQuant = layout.doubleQuant;
  weight.numel = layout.numel;
  weight.blockSize = layout.blockSize;
  launchNf4Dequantize(r.module(nf4DequantizeSource()), r.stream(), weight,
                      result.address);
}

// pg.store: overwrite a persistent buffer (same dtype and shape).
void launchCopy(StepResources &r, const PlanStep &step, const Operands &in,
                const Operands &out) {
  expectArity(step, in, 1, out, 1);
  if (in[0].dtype != out[0].dtype || in[0].shape != out[0].shape)
    fail("copy between different types: {} {} to {} {}", dtypeName(in[0].dtype),
         formatShape(in[0].shape), dtypeName(out[0].dtype),
         formatShape(out[0].shape));
  if (in[0].address != out[0].address && in[0].bytes() > 0)
    copyDeviceToDevice(r.stream(), out[0].address, in[0].address,
                       in[0].bytes());
}

void launchReshapeStep(StepResources &r, const PlanStep &step,
                       const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchReshape(r.stream(), in[0], out[0]);
}

void launchTransposeStep(StepResources &r, const PlanStep &step,
                         const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchTranspose(r.module(layoutSource()), r.stream(), in[0],
                  step.integers("perm"), out[0]);
}

void launchBroadcastStep(StepResources &r, const PlanStep &step,
                         const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchBroadcast(r.module(layoutSource()), r.stream(), in[0], out[0]);
}

void launchSliceStep(StepResources &r, const PlanStep &step, const Operands &in,
                     const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchSlice(r.module(layoutSource()), r.stream(), in[0],
              step.integers("starts"), step.integers("limits"),
              step.integers("strides"), out[0]);
}

void launchConcatStep(StepResources &r, const PlanStep &step,
                      const Operands &in, const Operands &out) {
  if (out.size() != 1 || in.empty())
    fail("concat: expected inputs and one output");
  launchConcat(r.module(layoutSource()), r.stream(), in, step.integer("axis"),
               out[0]);
}

void launchIotaStep(StepResources &r, const PlanStep &step, const Operands &in,
                    const Operands &out) {
  expectArity(step, in, 0, out, 1);
  launchIota(r.module(layoutSource()), r.stream(), step.integer("dim"), out[0]);
}

// Indexing kernels report a bad id through a device word; checking it right
// away gives the CPU's error at the step that caused it (one synchronization
// per gather or scatter, a handful per training step).
void launchGatherStep(StepResources &r, const PlanStep &step,
                      const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  launchGather(r.module(indexingSource()), r.stream(), in[0], in[1], out[0],
               r.idWord())
      .verify(r.stream());
}

void launchScatterAddStep(StepResources &r, const PlanStep &step,
                          const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  size_t bytes = scatterAddWorkspaceBytes(in[0], out[0]);
  launchScatterAdd(r.module(indexingSource()), r.stream(), in[0], in[1], out[0],
                   r.scratch(bytes), r.idWord())
      .verify(r.stream());
}

void launchScatterStep(StepResources &r, const PlanStep &step,
                       const Operands &in, const Operands &out) {
  expectArity(step, in, 3, out, 1);
  size_t bytes = scatterWorkspaceBytes(in[0]);
  launchScatter(r.module(indexingSource()), r.stream(), in[0], in[1], in[2],
                out[0], r.scratch(bytes), r.idWord())
      .verify(r.stream());
}

template <ReduceKind kKind>
void launchReduction(StepResources &r, const PlanStep &step, const Operands &in,
                     const Operands &out) {
  expectArity(step, in, 1, out, 1);
  std::vector<int64_t> axes = step.integers("axes");
  bool keepDims = step.flag("keep_dims");
  std::vector<int64_t> order =
      reductionReorder(in[0].shape, axes, step.op.c_str());
  if (order.empty()) {
    launchReduce(r.module(reduceSource()), r.stream(), kKind, in[0], axes,
                 keepDims, out[0]);
    return;
  }
  // Scattered axes (an unbroadcast of [H,1] from [B,H,L] reduces {0,2}): the
  // kernels take [outer, extent, inner], so x is first transposed into
  // scratch with the reduced dimensions last, then reduced over those.
  int64_t rank = in[0].rank();
  int64_t kept = rank - static_cast<int64_t>(axes.size());
  std::vector<bool> reduced(rank, false);
  Shape moved;
  for (int64_t i = 0; i < rank; ++i) {
    reduced[order[i]] = i >= kept;
    moved.push_back(in[0].shape[order[i]]);
  }
  Shape expected;
  for (int64_t d = 0; d < rank; ++d)
    if (!reduced[d] || keepDims)
      expected.push_back(reduced[d] ? 1 : in[0].shape[d]);
  if (out[0].shape != expected)
    fail("{}: result has shape {}, expected {}", step.op,
         formatShape(out[0].shape), formatShape(expected));
  DeviceTensor staged{r.scratch(in[0].bytes()), in[0].dtype, moved};
  launchTranspose(r.module(layoutSource()), r.stream(), in[0], order, staged);
  std::vector<int64_t> trailing;
  for (int64_t d = kept; d < static_cast<int64_t>(order.size()); ++d)
    trailing.push_back(d);
  DeviceTensor result = out[0];
  result.shape.assign(moved.begin(), moved.begin() + kept);
  launchReduce(r.module(reduceSource()), r.stream(), kKind, staged, trailing,
               false, result);
}

void launchCumsumStep(StepResources &r, const PlanStep &step,
                      const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchCumsum(r.module(reduceSource()), r.stream(), in[0],
               step.integer("axis"), out[0]);
}

void launchSoftmaxStep(StepResources &r, const PlanStep &step,
                       const Operands &in, const Operands &out) {
  expectArity(step, in, 1, out, 1);
  launchSoftmax(r.module(softmaxSource()), r.stream(), in[0],
                step.integer("axis"), out[0]);
}

void launchSoftmaxGradStep(StepResources &r, const PlanStep &step,
                           const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  launchSoftmaxGrad(r.module(softmaxSource()), r.stream(), in[0], in[1],
                    step.integer("axis"), out[0]);
}

void launchRmsNormStep(StepResources &r, const PlanStep &step,
                       const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  launchRmsNorm(r.module(normsSource()), r.stream(), in[0], in[1],
                step.real("epsilon"), step.flag("unit_offset"), out[0]);
}

void launchLayerNormStep(StepResources &r, const PlanStep &step,
                         const Operands &in, const Operands &out) {
  expectArity(step, in, 3, out, 1);
  launchLayerNorm(r.module(normsSource()), r.stream(), in[0], in[1], in[2],
                  step.real("epsilon"), out[0]);
}

/// Rows x width of a norm's input (the last dim is normalised), in the
/// kernel's compute type: f64 as soon as any operand is (x, w, dy, dx, dw and
/// db, as launchRmsNormGrad / launchLayerNormGrad decide), else a short
/// workspace is refused for an f64 weight or gradient.
size_t normScratchBytes(const Operands &in, const Operands &out) {
  const DeviceTensor &x = in[0];
  int64_t width = x.rank() > 0 ? x.dim(-1) : 1;
  int64_t rows = width > 0 ? x.numel() / width : 0;
  bool f64 = false;
  for (const Operands *operands : {&in, &out})
    for (const DeviceTensor &t : *operands)
      f64 = f64 || t.dtype == DType::F64;
  return normGradWorkspaceBytes(rows, width, f64);
}

void launchRmsNormGradStep(StepResources &r, const PlanStep &step,
                           const Operands &in, const Operands &out) {
  expectArity(step, in, 3, out, 2);
  size_t bytes = normScratchBytes(in, out);
  launchRmsNormGrad(r.module(normsSource()), r.stream(), in[0], in[1], in[2],
                    step.real("epsilon"), step.flag("unit_offset"), out[0],
                    out[1], r.scratch(bytes), bytes);
}

void launchLayerNormGradStep(StepResources &r, const PlanStep &step,
                             const Operands &in, const Operands &out) {
  expectArity(step, in, 3, out, 3);
  size_t bytes = normScratchBytes(in, out);
  launchLayerNormGrad(r.module(normsSource()), r.stream(), in[0], in[1], in[2],
                      step.real("epsilon"), out[0], out[1], out[2],
                      r.scratch(bytes), bytes);
}

void launchRopeStep(StepResources &r, const PlanStep &step, const Operands &in,
                    const Operands &out) {
  expectArity(step, in, 2, out, 1);
  launchRope(r.module(ropeSource()), r.stream(), in[0], in[1],
             step.real("theta"), out[0]);
}

void launchRopeGradStep(StepResources &r, const PlanStep &step,
                        const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  launchRopeGrad(r.module(ropeSource()), r.stream(), in[0], in[1],
                 step.real("theta"), out[0]);
}

// The plan always passes the mask (the fourth input), as the CPU table does.
void launchAttentionStep(StepResources &r, const PlanStep &step,
                         const Operands &in, const Operands &out) {
  expectArity(step, in, 4, out, 1);
  size_t bytes = attentionWorkspaceBytes(
      validateAttention(in[0], in[1], in[2], &in[3], out[0]));
  launchAttention(r.module(attentionSource()), r.stream(), in[0], in[1], in[2],
                  &in[3], step.real("scale"), out[0], r.scratch(bytes), bytes);
}

void launchAttentionGradStep(StepResources &r, const PlanStep &step,
                             const Operands &in, const Operands &out) {
  expectArity(step, in, 5, out, 3);
  size_t bytes = attentionGradWorkspaceBytes(validateAttentionGrad(
      in[0], in[1], in[2], &in[3], in[4], out[0], out[1], out[2]));
  launchAttentionGrad(r.module(attentionSource()), r.stream(), in[0], in[1],
                      in[2], &in[3], step.real("scale"), in[4], out[0], out[1],
                      out[2], r.scratch(bytes), bytes);
}

void launchCrossEntropyStep(StepResources &r, const PlanStep &step,
                            const Operands &in, const Operands &out) {
  expectArity(step, in, 2, out, 1);
  size_t bytes = crossEntropyWorkspaceBytes(in[0]);
  launchCrossEntropy(r.module(crossEntropySource()), r.stream(), in[0], in[1],
                     step.integer("ignore_index"), out[0], r.scratch(bytes),
                     bytes, r.idWord())
      .verify(r.stream());
}

void launchCrossEntropyGradStep(StepResources &r, const PlanStep &step,
                                const Operands &in, const Operands &out) {
  expectArity(step, in, 3, out, 1);
  size_t bytes = crossEntropyGradWorkspaceBytes();
  launchCrossEntropyGrad(r.module(crossEntropySource()), r.stream(), in[0],
                         in[1], step.integer("ignore_index"), in[2], out[0],
                         r.scratch(bytes), bytes, r.idWord())
      .verify(r.stream());
}

const std::unordered_map<std::string, StepLauncher> &launcherTable() {
  static const std::unordered_map<std::string, StepLauncher> table = {
      {"matmul", launchMatmul},
      {"dequant_nf4", launchDequantNf4},
      {"copy", launchCopy},
      {"reshape", launchReshapeStep},
      {"transpose", launchTransposeStep},
      {"broadcast", launchBroadcastStep},
      {"slice", launchSliceStep},
      {"concat", launchConcatStep},
      {"iota", launchIotaStep},
      {"gather", launchGatherStep},
      {"scatter_add", launchScatterAddStep},
      {"scatter", launchScatterStep},
      {"reduce_sum", launchReduction<ReduceKind::Sum>},
      {"reduce_max", launchReduction<ReduceKind::Max>},
      {"reduce_mean", launchReduction<ReduceKind::Mean>},
      {"cumsum", launchCumsumStep},
      {"softmax", launchSoftmaxStep},
      {"softmax_grad", launchSoftmaxGradStep},
      {"rms_norm", launchRmsNormStep},
      {"rms_norm_grad", launchRmsNormGradStep},
      {"layer_norm", launchLayerNormStep},
      {"layer_norm_grad", launchLayerNormGradStep},
      {"rope", launchRopeStep},
      {"rope_grad", launchRopeGradStep},
      {"attention", launchAttentionStep},
      {"attention_grad", launchAttentionGradStep},
      {"cross_entropy", launchCrossEntropyStep},
      {"cross_entropy_grad", launchCrossEntropyGradStep},
  };
  return table;
}

} // namespace

StepLauncher findCudaLauncher(const std::string &op) {
  const auto &table = launcherTable();
  auto found = table.find(op);
  return found == table.end() ? nullptr : found->second;
}

} // namespace pgc::cuda
