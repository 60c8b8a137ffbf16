// rope and rope_grad on the GPU: the CPU kernel's rotation
// (runtime/cpu/Rope.cpp) with the CPU's own angles.
#include "runtime/cuda/kernels/Reduce.h"
#include "runtime/cuda/kernels/RopeLoss.h"

#include "runtime/support/Error.h"

#include <cmath>
#include <string>

namespace pgc::cuda {
namespace {

// One thread per (vector, pair k): it computes the pair's angle, its cosine
// and sine, and both outputs k and k + D/2, so the loads and stores of a warp
// are consecutive.
//
// The CPU's angle is fl(fl(position) * inv_freq[k]), inv_freq[k] = 1 /
// pow(theta, 2k / D) in the compute type. pow differs between glibc and CUDA
// (CUDA's powf is within 4 ulp), and an angle near 272 carries any relative
// error of inv_freq into sin/cos absolutely (8e-5 for 5 ulp of f32). So the
// host computes inv_freq with the CPU's expression and libm (the same bits)
// and passes it by value; the product then rounds as the CPU's does.
//
// sin/cos of an f32 angle are evaluated in f64 and rounded once to f32: within
// 0.5 ulp + 2^-29 relative of the true value, where glibc's sinf/cosf (the
// CPU's) are within 0.56 ulp, so the two mostly agree and never differ by
// more than one ulp. For f64 angles CUDA's sincos (2 ulp) against glibc's
// sin/cos (< 1 ulp). The rotation itself is the CPU's expression:
//   out1 = x1 c - (sign x2) s,  out2 = x2 c + (sign x1) s.
const char *const kKernels = R"CUDA(
struct PgcRopeTable {
  double inverseFrequency[256];
};

__device__ __forceinline__ void pgcSinCos(float angle, float &s, float &c) {
  double sd, cd;
  sincos((double)angle, &sd, &cd);
  s = __double2float_rn(sd);
  c = __double2float_rn(cd);
}
__device__ __forceinline__ void pgcSinCos(double angle, double &s, double &c) {
  sincos(angle, &s, &c);
}

// x and out are [vectors, 2 half]; the vector v = (b, h, l) uses
// positions[b * length + l].
template <typename Acc, typename Pos>
__device__ void pgcRope(const void *x, int xType, const Pos *positions,
                        void *out, int outType, long long heads,
                        long long length, long long half, long long count,
                        int sign, const Acc *inverseFrequency) {
  Acc signum = sign > 0 ? Acc(1) : Acc(-1);
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
       e < count; e += step) {
    long long v = e / half, k = e - v * half;
    long long l = v % length, b = v / (heads * length);
    Acc position = (Acc)(long long)positions[b * length + l];
    Acc angle = pgcMul(position, inverseFrequency[k]);
    Acc s, c;
    pgcSinCos(angle, s, c);
    long long at = v * 2 * half + k;
    Acc first = pgcLoad<Acc>(x, xType, at);
    Acc second = pgcLoad<Acc>(x, xType, at + half);
    pgcStore(out, outType, at,
             pgcSub(pgcMul(first, c), pgcMul(pgcMul(signum, second), s)));
    pgcStore(out, outType, at + half,
             pgcAdd(pgcMul(second, c), pgcMul(pgcMul(signum, first), s)));
  }
}

// The table is copied to shared memory once per block, so the loop indexes
// shared memory rather than the parameter space.
#define PGC_ROPE(ACC, POS, PT)                                                 \
  extern "C" __global__ void pgc_rope_##ACC##_##POS(                           \
      const void *x, int xType, const PT *positions, void *out, int outType,  \
      long long heads, long long length, long long half, long long count,     \
      int sign, PgcRopeTable table) {                                          \
    __shared__ ACC frequencies[256];                                           \
    for (int k = threadIdx.x; k < half; k += blockDim.x)                       \
      frequencies[k] = (ACC)table.inverseFrequency[k];                         \
    __syncthreads();                                                           \
    pgcRope<ACC, PT>(x, xType, positions, out, outType, heads, length, half,  \
                     count, sign, frequencies);                                \
  }
PGC_ROPE(float, i32, int)
PGC_ROPE(float, i64, long long)
PGC_ROPE(double, i32, int)
PGC_ROPE(double, i64, long long)
)CUDA";

// The kernel's by-value argument: half the head dim's inverse frequencies,
// each an exact Acc value widened to double.
struct RopeTable {
  double inverseFrequency[kMaxRopeHeadDim / 2];
};

// runtime/cpu/Rope.cpp's rotationTable, expression for expression (the same
// std::pow overload in the same type), so the bits are the CPU's.
template <typename Acc> RopeTable inverseFrequencies(double theta, int64_t D) {
  RopeTable table{};
  for (int64_t k = 0; k < D / 2; ++k) {
    Acc exponent = static_cast<Acc>(2 * k) / static_cast<Acc>(D);
    table.inverseFrequency[k] =
        Acc(1) / std::pow(static_cast<Acc>(theta), exponent);
  }
  return table;
}

void requireRank4(const DeviceTensor &t, const char *op, const char *name) {
  if (t.rank() != 4)
    fail("{}: {} must have rank 4, got shape {}", op, name,
         formatShape(t.shape));
}

// runtime/cpu/Rope.cpp's checkRope.
void checkRope(const DeviceTensor &x, const DeviceTensor &positions,
               const DeviceTensor &out, const char *op, const char *inName,
               const char *outName) {
  requireRank4(x, op, inName);
  if (x.dim(3) % 2 != 0)
    fail("{}: head dim {} of {} {} must be even", op, x.dim(3), inName,
         formatShape(x.shape));
  detail::requireShapeOf(positions, {x.dim(0), x.dim(2)}, op, "positions");
  detail::requireShapeOf(out, x.shape, op, outName);
}

// The CPU reads positions (readIndices) before its float views of the
// operand and result; the GPU's limit comes after every CPU check.
void checkRest(const DeviceTensor &x, const DeviceTensor &positions,
               const DeviceTensor &out, const char *op) {
  if (positions.dtype != DType::I32 && positions.dtype != DType::I64)
    fail("{}: positions must be i32 or i64, got {}", op,
         dtypeName(positions.dtype));
  detail::requireFloatOperand(x, op, "operand");
  detail::requireFloatOperand(out, op, "result");
  if (x.dim(3) > kMaxRopeHeadDim)
    fail("{}: head dim {} exceeds the GPU kernel's limit of {}", op, x.dim(3),
         kMaxRopeHeadDim);
}

void enqueueRotation(const Module &module, const Stream &stream,
                     const DeviceTensor &x, const DeviceTensor &positions,
                     double theta, int sign, bool f64, const DeviceTensor &out,
                     const char *op) {
  long long heads = x.dim(1), length = x.dim(2), half = x.dim(3) / 2;
  long long count = x.dim(0) * heads * length * half;
  if (count == 0)
    return;
  RopeTable table = f64 ? inverseFrequencies<double>(theta, x.dim(3))
                        : inverseFrequencies<float>(theta, x.dim(3));
  std::string name = std::string("pgc_rope_") + (f64 ? "double" : "float") +
                     (positions.dtype == DType::I32 ? "_i32" : "_i64");
  api::CUdeviceptr xp = x.address, pp = positions.address, outp = out.address;
  int xType = static_cast<int>(x.dtype), outType = static_cast<int>(out.dtype);
  void *arguments[] = {&xp,     &xType, &pp,    &outp, &outType, &heads,
                       &length, &half,  &count, &sign, &table};
  LaunchShape shape;
  shape.blockX = 256;
  shape.gridX = detail::gridFor(stream, (count + 255) / 256, 16);
  launchKernel(stream, module.function(name.c_str()), shape, arguments, op);
}

} // namespace

const KernelSource &ropeSource() {
  static const KernelSource source{
      "rope.cu", std::string(detail::reductionPrelude()) + kKernels, {}};
  return source;
}

void validateRope(const DeviceTensor &x, const DeviceTensor &positions,
                  const DeviceTensor &out) {
  checkRope(x, positions, out, "rope", "operand", "result");
  detail::requireFloatOperand(x, "rope", "operand");
  if (out.dtype != x.dtype)
    fail("rope: result has dtype {}, expected {}", dtypeName(out.dtype),
         dtypeName(x.dtype));
  checkRest(x, positions, out, "rope");
}

void validateRopeGrad(const DeviceTensor &dy, const DeviceTensor &positions,
                      const DeviceTensor &dx) {
  checkRope(dy, positions, dx, "rope_grad", "dy", "dx");
  checkRest(dy, positions, dx, "rope_grad");
}

void launchRope(const Module &module, const Stream &stream,
                const DeviceTensor &x, const DeviceTensor &positions,
                double theta, const DeviceTensor &out) {
  validateRope(x, positions, out);
  enqueueRotation(module, stream, x, positions, theta, 1, x.dtype == DType::F64,
                  out, "rope");
}

void launchRopeGrad(const Module &module, const Stream &stream,
                    const DeviceTensor &dy, const DeviceTensor &positions,
                    double theta, const DeviceTensor &dx) {
  validateRopeGrad(dy, positions, dx);
  enqueueRotation(module, stream, dy, positions, theta, -1,
                  detail::anyF64({dy.dtype, dx.dtype}), dx, "rope_grad");
}

} // namespace pgc::cuda
