// Elementwise kernels: binary arithmetic, unary math, compare, select and
// gelu_tanh's gradient.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace pgc::cpu {
namespace {

const char *binaryName(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "add";
  case BinaryOp::Sub:
    return "sub";
  case BinaryOp::Mul:
    return "mul";
  case BinaryOp::Div:
    return "div";
  case BinaryOp::Max:
    return "max";
  case BinaryOp::Min:
    return "min";
  }
  return "binary";
}

const char *unaryName(UnaryOp op) {
  switch (op) {
  case UnaryOp::Neg:
    return "neg";
  case UnaryOp::Exp:
    return "exp";
  case UnaryOp::Log:
    return "log";
  case UnaryOp::Sqrt:
    return "sqrt";
  case UnaryOp::Rsqrt:
    return "rsqrt";
  case UnaryOp::Tanh:
    return "tanh";
  case UnaryOp::GeluTanh:
    return "gelu_tanh";
  }
  return "unary";
}

// Max and min propagate NaN, as torch.maximum / torch.minimum do.
template <typename Acc> Acc applyFloat(BinaryOp op, Acc a, Acc b) {
  switch (op) {
  case BinaryOp::Add:
    return a + b;
  case BinaryOp::Sub:
    return a - b;
  case BinaryOp::Mul:
    return a * b;
  case BinaryOp::Div:
    return a / b;
  case BinaryOp::Max:
    return (std::isnan(a) || std::isnan(b)) ? a + b : (a > b ? a : b);
  case BinaryOp::Min:
    return (std::isnan(a) || std::isnan(b)) ? a + b : (a < b ? a : b);
  }
  return 0;
}

// Integer arithmetic wraps around (two's complement) instead of being
// undefined on overflow; division truncates toward zero.
template <typename T> T applyInt(BinaryOp op, T a, T b) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
  case BinaryOp::Add:
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  case BinaryOp::Sub:
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  case BinaryOp::Mul:
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  case BinaryOp::Div:
    if constexpr (std::is_signed_v<T>)
      if (b == T(-1)) // Avoids the trap of INT_MIN / -1.
        return static_cast<T>(U(0) - static_cast<U>(a));
    return a / b;
  case BinaryOp::Max:
    return a > b ? a : b;
  case BinaryOp::Min:
    return a < b ? a : b;
  }
  return 0;
}

template <typename T>
void binaryInt(BinaryOp op, const Tensor &a, const Tensor &b, Tensor &out) {
  const T *pa = a.data<T>(), *pb = b.data<T>();
  T *po = out.data<T>();
  if (op == BinaryOp::Div)
    for (int64_t i = 0; i < b.numel(); ++i)
      if (pb[i] == 0)
        fail("div: integer division by zero at element {}", i);
  parallelFor(out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      po[i] = applyInt<T>(op, pa[i], pb[i]);
  });
}

// The op is a template argument so that each loop is a plain vectorizable
// loop over restrict pointers instead of a switch per element.
template <typename Acc, BinaryOp Op>
void binaryFloatLoop(const Acc *__restrict a, const Acc *__restrict b,
                     Acc *__restrict out, int64_t count) {
  parallelFor(count, 1 << 15, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      out[i] = applyFloat<Acc>(Op, a[i], b[i]);
  });
}

template <typename Acc>
void binaryFloat(BinaryOp op, const Tensor &a, const Tensor &b, Tensor &out) {
  const char *name = binaryName(op);
  FloatInput<Acc> fa(a, name, "lhs"), fb(b, name, "rhs");
  FloatOutput<Acc> fo(out, name, "result");
  const Acc *pa = fa.data(), *pb = fb.data();
  Acc *po = fo.data();
  int64_t n = out.numel();
  switch (op) {
  case BinaryOp::Add:
    binaryFloatLoop<Acc, BinaryOp::Add>(pa, pb, po, n);
    break;
  case BinaryOp::Sub:
    binaryFloatLoop<Acc, BinaryOp::Sub>(pa, pb, po, n);
    break;
  case BinaryOp::Mul:
    binaryFloatLoop<Acc, BinaryOp::Mul>(pa, pb, po, n);
    break;
  case BinaryOp::Div:
    binaryFloatLoop<Acc, BinaryOp::Div>(pa, pb, po, n);
    break;
  case BinaryOp::Max:
    binaryFloatLoop<Acc, BinaryOp::Max>(pa, pb, po, n);
    break;
  case BinaryOp::Min:
    binaryFloatLoop<Acc, BinaryOp::Min>(pa, pb, po, n);
    break;
  }
  fo.commit();
}

// e^x in f32 with a branch-free body that compilers vectorize (libm's expf
// is a call per element): Cody-Waite reduction x = n ln2 + r, a degree-6
// polynomial for e^r (Cephes' expf coefficients, about 1 ulp), and 2^n
// built in the exponent bits. Inputs are clamped to [-87, 88], where 2^n
// stays a normal float.
inline float expFloat(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// gelu_tanh in f32 through the identity ½(1 + tanh u) = 1 / (1 + e^(-2u)):
// mathematically the same function, accurate to a few ulp everywhere (no
// cancellation in 1 + tanh u for negative u) and vectorizable.
inline float geluTanhFloat(float x) {
  const float sqrtTwoOverPi = 0.79788456080286535588f, cubic = 0.044715f;
  float u = sqrtTwoOverPi * (x + cubic * x * x * x);
  return x / (1.0f + expFloat(-2.0f * u));
}

// Its derivative with s = ½(1 + tanh u): ½(1 - tanh² u) = 2s(1 - s), so
// d/dx = s + 2 x s (1 - s) u'(x).
inline float geluTanhGradFloat(float x) {
  const float c = 0.79788456080286535588f, a = 0.044715f;
  float u = c * (x + a * x * x * x);
  float s = 1.0f / (1.0f + expFloat(-2.0f * u));
  return s + 2.0f * x * s * (1.0f - s) * c * (1.0f + 3.0f * a * x * x);
}

template <typename Acc> Acc geluTanhValue(Acc x) {
  const Acc sqrtTwoOverPi = Acc(0.79788456080286535588);
  const Acc cubicCoefficient = Acc(0.044715);
  Acc inner = sqrtTwoOverPi * (x + cubicCoefficient * x * x * x);
  return Acc(0.5) * x * (Acc(1) + std::tanh(inner));
}

template <typename Acc> Acc applyUnary(UnaryOp op, Acc x) {
  switch (op) {
  case UnaryOp::Neg:
    return -x;
  case UnaryOp::Exp:
    return std::exp(x);
  case UnaryOp::Log:
    return std::log(x);
  case UnaryOp::Sqrt:
    return std::sqrt(x);
  case UnaryOp::Rsqrt:
    return Acc(1) / std::sqrt(x);
  case UnaryOp::Tanh:
    return std::tanh(x);
  case UnaryOp::GeluTanh:
    return geluTanhValue(x);
  }
  return 0;
}

template <typename Acc, UnaryOp Op>
void unaryFloatLoop(const Acc *__restrict x, Acc *__restrict out,
                    int64_t count) {
  // Cheap ops get chunks as large as binary's: waking a pool thread costs
  // more than a few thousand square roots, above all on a loaded machine.
  constexpr bool cheap =
      Op == UnaryOp::Neg || Op == UnaryOp::Sqrt || Op == UnaryOp::Rsqrt;
  parallelFor(
      count, cheap ? 1 << 15 : 1 << 13, [=](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if constexpr (Op == UnaryOp::GeluTanh && std::is_same_v<Acc, float>)
            out[i] = geluTanhFloat(x[i]);
          else
            out[i] = applyUnary<Acc>(Op, x[i]);
        }
      });
}

template <typename Acc>
void unaryFloat(UnaryOp op, const Tensor &x, Tensor &out) {
  const char *name = unaryName(op);
  FloatInput<Acc> fx(x, name, "operand");
  FloatOutput<Acc> fo(out, name, "result");
  const Acc *px = fx.data();
  Acc *po = fo.data();
  int64_t n = out.numel();
  switch (op) {
  case UnaryOp::Neg:
    unaryFloatLoop<Acc, UnaryOp::Neg>(px, po, n);
    break;
  case UnaryOp::Exp:
    unaryFloatLoop<Acc, UnaryOp::Exp>(px, po, n);
    break;
  case UnaryOp::Log:
    unaryFloatLoop<Acc, UnaryOp::Log>(px, po, n);
    break;
  case UnaryOp::Sqrt:
    unaryFloatLoop<Acc, UnaryOp::Sqrt>(px, po, n);
    break;
  case UnaryOp::Rsqrt:
    unaryFloatLoop<Acc, UnaryOp::Rsqrt>(px, po, n);
    break;
  case UnaryOp::Tanh:
    unaryFloatLoop<Acc, UnaryOp::Tanh>(px, po, n);
    break;
  case UnaryOp::GeluTanh:
    unaryFloatLoop<Acc, UnaryOp::GeluTanh>(px, po, n);
    break;
  }
  fo.commit();
}

template <typename T> void negateInt(const Tensor &x, Tensor &out) {
  using U = std::make_unsigned_t<T>;
  const T *px = x.data<T>();
  T *po = out.data<T>();
  for (int64_t i = 0; i < x.numel(); ++i)
    po[i] = static_cast<T>(U(0) - static_cast<U>(px[i]));
}

template <typename T> bool applyPredicate(ComparePredicate p, T a, T b) {
  switch (p) {
  case ComparePredicate::Eq:
    return a == b;
  case ComparePredicate::Ne:
    return a != b;
  case ComparePredicate::Lt:
    return a < b;
  case ComparePredicate::Le:
    return a <= b;
  case ComparePredicate::Gt:
    return a > b;
  case ComparePredicate::Ge:
    return a >= b;
  }
  return false;
}

template <typename T>
void compareNative(ComparePredicate p, const Tensor &a, const Tensor &b,
                   Tensor &out) {
  const T *pa = a.data<T>(), *pb = b.data<T>();
  uint8_t *po = out.data<uint8_t>();
  parallelFor(out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      po[i] = applyPredicate<T>(p, pa[i], pb[i]) ? 1 : 0;
  });
}

void requireSameShapeAndDType(const Tensor &a, const Tensor &b, const char *op,
                              const char *nameA, const char *nameB) {
  requireShape(b, a.shape(), op, nameB);
  if (a.dtype() != b.dtype())
    fail("{}: {} is {} but {} is {}", op, nameA, dtypeName(a.dtype()), nameB,
         dtypeName(b.dtype()));
}

} // namespace

void binary(BinaryOp op, const Tensor &a, const Tensor &b, Tensor &out) {
  const char *name = binaryName(op);
  requireSameShapeAndDType(a, b, name, "lhs", "rhs");
  requireSameShapeAndDType(a, out, name, "lhs", "result");
  switch (a.dtype()) {
  case DType::F64:
    return binaryFloat<double>(op, a, b, out);
  case DType::BF16:
  case DType::F16:
  case DType::F32:
    return binaryFloat<float>(op, a, b, out);
  case DType::I32:
    return binaryInt<int32_t>(op, a, b, out);
  case DType::I64:
    return binaryInt<int64_t>(op, a, b, out);
  case DType::U8:
    return binaryInt<uint8_t>(op, a, b, out);
  case DType::Bool:
    if (op != BinaryOp::Max && op != BinaryOp::Min)
      fail("{}: not defined on i1 tensors (only max and min are)", name);
    return binaryInt<uint8_t>(op, a, b, out);
  }
}

void unary(UnaryOp op, const Tensor &x, Tensor &out) {
  const char *name = unaryName(op);
  requireSameShapeAndDType(x, out, name, "operand", "result");
  if (isFloat(x.dtype())) {
    if (x.dtype() == DType::F64)
      return unaryFloat<double>(op, x, out);
    return unaryFloat<float>(op, x, out);
  }
  if (op != UnaryOp::Neg)
    fail("{}: operand must be a float tensor, got {}", name,
         dtypeName(x.dtype()));
  switch (x.dtype()) {
  case DType::I32:
    return negateInt<int32_t>(x, out);
  case DType::I64:
    return negateInt<int64_t>(x, out);
  default:
    fail("neg: operand must be float, i32 or i64, got {}",
         dtypeName(x.dtype()));
  }
}

void compare(ComparePredicate predicate, const Tensor &a, const Tensor &b,
             Tensor &out) {
  requireSameShapeAndDType(a, b, "compare", "lhs", "rhs");
  requireShape(out, a.shape(), "compare", "result");
  requireDType(out, DType::Bool, "compare", "result");
  switch (a.dtype()) {
  case DType::F64:
  case DType::BF16:
  case DType::F16:
  case DType::F32: {
    // Widening to double is exact, so the comparison is of the stored values.
    FloatInput<double> fa(a, "compare", "lhs"), fb(b, "compare", "rhs");
    uint8_t *po = out.data<uint8_t>();
    for (int64_t i = 0; i < out.numel(); ++i)
      po[i] = applyPredicate<double>(predicate, fa[i], fb[i]) ? 1 : 0;
    return;
  }
  case DType::I32:
    return compareNative<int32_t>(predicate, a, b, out);
  case DType::I64:
    return compareNative<int64_t>(predicate, a, b, out);
  case DType::U8:
  case DType::Bool:
    return compareNative<uint8_t>(predicate, a, b, out);
  }
}

void select(const Tensor &cond, const Tensor &a, const Tensor &b, Tensor &out) {
  requireDType(cond, DType::Bool, "select", "condition");
  requireSameShapeAndDType(a, b, "select", "true value", "false value");
  requireSameShapeAndDType(a, out, "select", "true value", "result");
  requireShape(cond, a.shape(), "select", "condition");
  size_t width = dtypeSize(a.dtype());
  const uint8_t *pc = cond.data<uint8_t>();
  const char *pa = static_cast<const char *>(a.raw());
  const char *pb = static_cast<const char *>(b.raw());
  char *po = static_cast<char *>(out.raw());
  parallelFor(out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      std::memcpy(po + i * width, (pc[i] ? pa : pb) + i * width, width);
  });
}

void geluTanhGrad(const Tensor &x, const Tensor &dy, Tensor &dx) {
  requireShape(dy, x.shape(), "gelu_tanh_grad", "dy");
  requireShape(dx, x.shape(), "gelu_tanh_grad", "dx");
  auto run = [&](auto zero) {
    using Acc = decltype(zero);
    FloatInput<Acc> fx(x, "gelu_tanh_grad", "x"),
        fdy(dy, "gelu_tanh_grad", "dy");
    FloatOutput<Acc> fdx(dx, "gelu_tanh_grad", "dx");
    const Acc c = Acc(0.79788456080286535588), a = Acc(0.044715);
    const Acc *__restrict px = fx.data();
    const Acc *__restrict pdy = fdy.data();
    Acc *__restrict pdx = fdx.data();
    parallelFor(x.numel(), 1 << 13, [=](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        Acc v = px[i];
        if constexpr (std::is_same_v<Acc, float>) {
          pdx[i] = pdy[i] * geluTanhGradFloat(v);
        } else {
          Acc t = std::tanh(c * (v + a * v * v * v));
          Acc derivative =
              Acc(0.5) * (Acc(1) + t) + Acc(0.5) * v * (Acc(1) - t * t) * c *
                                            (Acc(1) + Acc(3) * a * v * v);
          pdx[i] = pdy[i] * derivative;
        }
      }
    });
    fdx.commit();
  };
  if (anyF64({x.dtype(), dy.dtype(), dx.dtype()}))
    run(double{});
  else
    run(float{});
}

} // namespace pgc::cpu
