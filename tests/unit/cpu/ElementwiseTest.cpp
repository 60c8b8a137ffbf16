// Elementwise kernels against plain double arithmetic, exact integer rules and
// hand-worked bf16 ties.
#include "runtime/cpu/Kernels.h"
#include "runtime/support/Error.h"
#include "tests/unit/cpu/TestUtil.h"

#include <climits>

namespace pgc::cpu {
namespace {
using namespace test;

double referenceBinary(BinaryOp op, double a, double b) {
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
    return std::max(a, b);
  case BinaryOp::Min:
    return std::min(a, b);
  }
  return 0;
}

const BinaryOp kAllBinary[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul,
                               BinaryOp::Div, BinaryOp::Max, BinaryOp::Min};

TEST(CpuElementwise, FloatBinaryMatchesDoubleArithmetic) {
  std::mt19937 rng(1);
  for (DType dtype : {DType::F32, DType::BF16, DType::F16, DType::F64})
    for (const Shape &shape : {Shape{}, Shape{7}, Shape{3, 5, 2}})
      for (BinaryOp op : kAllBinary) {
        Tensor a = randomTensor(dtype, shape, rng, 0.5, 2.0);
        Tensor b = randomTensor(dtype, shape, rng, -2.0, -0.5);
        Tensor out(dtype, shape);
        binary(op, a, b, out);
        std::vector<double> expected;
        for (int64_t i = 0; i < a.numel(); ++i)
          expected.push_back(referenceBinary(op, a.at(i), b.at(i)));
        expectClose(out, expected, 0, roundingTolerance(dtype),
                    std::string("binary op ") +
                        std::to_string(static_cast<int>(op)) + " " +
                        std::string(dtypeName(dtype)));
      }
}

TEST(CpuElementwise, IntegerBinaryIsExactAndWraps) {
  Tensor a(DType::I32, {5}), b(DType::I32, {5}), out(DType::I32, {5});
  int32_t av[] = {INT32_MAX, -7, 7, INT32_MIN, 100000};
  int32_t bv[] = {1, 2, -2, -1, 100000};
  std::memcpy(a.raw(), av, sizeof(av));
  std::memcpy(b.raw(), bv, sizeof(bv));
  binary(BinaryOp::Add, a, b, out);
  EXPECT_EQ(out.data<int32_t>()[0], INT32_MIN);
  EXPECT_EQ(out.data<int32_t>()[1], -5);
  binary(BinaryOp::Div, a, b, out);
  EXPECT_EQ(out.data<int32_t>()[1], -3); // truncation toward zero
  EXPECT_EQ(out.data<int32_t>()[2], -3);
  EXPECT_EQ(out.data<int32_t>()[3], INT32_MIN); // wraps instead of trapping
  binary(BinaryOp::Mul, a, b, out);
  EXPECT_EQ(out.data<int32_t>()[4], 1410065408); // 10^10 mod 2^32
  binary(BinaryOp::Max, a, b, out);
  EXPECT_EQ(out.data<int32_t>()[3], -1);

  std::mt19937 rng(2);
  Tensor x = randomInts(DType::I64, {4, 6}, rng, -1000000, 1000000);
  Tensor y = randomInts(DType::I64, {4, 6}, rng, 1, 5000);
  Tensor z(DType::I64, {4, 6});
  for (BinaryOp op : kAllBinary) {
    binary(op, x, y, z);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t p = x.data<int64_t>()[i], q = y.data<int64_t>()[i];
      int64_t expected = op == BinaryOp::Add   ? p + q
                         : op == BinaryOp::Sub ? p - q
                         : op == BinaryOp::Mul ? p * q
                         : op == BinaryOp::Div ? p / q
                         : op == BinaryOp::Max ? std::max(p, q)
                                               : std::min(p, q);
      EXPECT_EQ(z.data<int64_t>()[i], expected);
    }
  }
}

TEST(CpuElementwise, IntegerDivisionByZeroIsAnError) {
  Tensor a(DType::I64, {2}), b(DType::I64, {2}), out(DType::I64, {2});
  b.set(0, 1);
  expectErrorContaining([&] { binary(BinaryOp::Div, a, b, out); },
                        "division by zero at element 1");
}

// 1 + 2^-8 lies exactly halfway between the bf16 values 1 and 1 + 2^-7;
// round-to-nearest-even must pick 1 (even mantissa). 1 + 3*2^-8 lies halfway
// between 1 + 2^-7 (odd) and 1 + 2^-6 (even) and must pick 1 + 2^-6.
TEST(CpuElementwise, Bf16OutputsRoundTiesToEven) {
  Tensor a(DType::BF16, {2}), b(DType::BF16, {2}), out(DType::BF16, {2});
  a.set(0, 1.0);
  b.set(0, std::ldexp(1.0, -8));
  a.set(1, 1.0 + std::ldexp(1.0, -7));
  b.set(1, std::ldexp(1.0, -8));
  binary(BinaryOp::Add, a, b, out);
  EXPECT_EQ(out.data<uint16_t>()[0], 0x3F80); // 1.0
  EXPECT_EQ(out.data<uint16_t>()[1], 0x3F82); // 1 + 2^-6
  // A product: 1.5 * (1 + 2^-7) = 1.5 + 1.5 * 2^-7 = 1 + 2^-1 + 2^-7 + 2^-8,
  // halfway between 1 + 2^-1 + 2^-7 (odd) and 1 + 2^-1 + 2^-6 (even).
  a.set(0, 1.5);
  b.set(0, 1.0 + std::ldexp(1.0, -7));
  binary(BinaryOp::Mul, a, b, out);
  EXPECT_EQ(out.at(0), 1.5 + std::ldexp(1.0, -6));
}

TEST(CpuElementwise, MaxAndMinPropagateNaN) {
  Tensor a(DType::F32, {2}), b(DType::F32, {2}), out(DType::F32, {2});
  a.set(0, NAN);
  b.set(0, 1);
  a.set(1, 2);
  b.set(1, NAN);
  for (BinaryOp op : {BinaryOp::Max, BinaryOp::Min}) {
    binary(op, a, b, out);
    EXPECT_TRUE(std::isnan(out.at(0)));
    EXPECT_TRUE(std::isnan(out.at(1)));
  }
}

double referenceUnary(UnaryOp op, double x) {
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
    return std::pow(x, -0.5);
  case UnaryOp::Tanh:
    return std::tanh(x);
  case UnaryOp::GeluTanh: {
    double inner = std::sqrt(2.0 / M_PI) * (x + 0.044715 * std::pow(x, 3));
    return x * (1.0 + std::tanh(inner)) / 2.0;
  }
  }
  return 0;
}

TEST(CpuElementwise, FloatUnaryMatchesDoubleMath) {
  std::mt19937 rng(3);
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt,
                       UnaryOp::Rsqrt, UnaryOp::Tanh, UnaryOp::GeluTanh}) {
      bool positiveOnly =
          op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt;
      Tensor x =
          randomTensor(dtype, {4, 9}, rng, positiveOnly ? 0.1 : -4.0, 4.0);
      Tensor out(dtype, {4, 9});
      unary(op, x, out);
      std::vector<double> expected;
      for (double v : valuesOf(x))
        expected.push_back(referenceUnary(op, v));
      // Absolute slack for results near zero (gelu, tanh), where relative
      // error of the f32 computation is not meaningful.
      double absTol = dtype == DType::F64 ? 1e-14 : 1e-6;
      expectClose(out, expected, absTol, roundingTolerance(dtype),
                  std::string("unary ") + std::to_string(static_cast<int>(op)) +
                      " " + std::string(dtypeName(dtype)));
    }
}

TEST(CpuElementwise, IntegerNegAndUnsupportedUnary) {
  Tensor x(DType::I64, {3}), out(DType::I64, {3});
  x.data<int64_t>()[0] = 5;
  x.data<int64_t>()[1] = -9;
  x.data<int64_t>()[2] = INT64_MIN;
  unary(UnaryOp::Neg, x, out);
  EXPECT_EQ(out.data<int64_t>()[0], -5);
  EXPECT_EQ(out.data<int64_t>()[1], 9);
  EXPECT_EQ(out.data<int64_t>()[2], INT64_MIN);
  expectErrorContaining([&] { unary(UnaryOp::Exp, x, out); },
                        "exp: operand must be a float tensor");
}

TEST(CpuElementwise, CompareEveryPredicate) {
  std::mt19937 rng(4);
  for (DType dtype : {DType::F32, DType::BF16, DType::I32, DType::I64}) {
    Tensor a = randomInts(dtype, {30}, rng, -3, 3);
    Tensor b = randomInts(dtype, {30}, rng, -3, 3);
    Tensor out(DType::Bool, {30});
    for (auto pred :
         {ComparePredicate::Eq, ComparePredicate::Ne, ComparePredicate::Lt,
          ComparePredicate::Le, ComparePredicate::Gt, ComparePredicate::Ge}) {
      compare(pred, a, b, out);
      for (int64_t i = 0; i < 30; ++i) {
        double p = a.at(i), q = b.at(i);
        bool expected = pred == ComparePredicate::Eq   ? p == q
                        : pred == ComparePredicate::Ne ? p != q
                        : pred == ComparePredicate::Lt ? p < q
                        : pred == ComparePredicate::Le ? p <= q
                        : pred == ComparePredicate::Gt ? p > q
                                                       : p >= q;
        EXPECT_EQ(out.data<uint8_t>()[i], expected ? 1 : 0);
      }
    }
  }
  Tensor nan(DType::F32, {1}), one(DType::F32, {1}), result(DType::Bool, {1});
  nan.set(0, NAN);
  compare(ComparePredicate::Ne, nan, nan, result);
  EXPECT_EQ(result.data<uint8_t>()[0], 1);
  compare(ComparePredicate::Eq, nan, nan, result);
  EXPECT_EQ(result.data<uint8_t>()[0], 0);
  Tensor wrongOut(DType::F32, {1});
  expectErrorContaining(
      [&] { compare(ComparePredicate::Eq, one, one, wrongOut); },
      "compare: result has dtype f32, expected i1");
}

TEST(CpuElementwise, SelectPicksByCondition) {
  std::mt19937 rng(5);
  for (DType dtype : {DType::BF16, DType::F64, DType::I32}) {
    Tensor cond = randomInts(DType::Bool, {3, 4}, rng, 0, 1);
    Tensor a = randomInts(dtype, {3, 4}, rng, -50, 50);
    Tensor b = randomInts(dtype, {3, 4}, rng, -50, 50);
    Tensor out(dtype, {3, 4});
    select(cond, a, b, out);
    for (int64_t i = 0; i < 12; ++i)
      EXPECT_EQ(out.at(i), cond.at(i) ? a.at(i) : b.at(i));
  }
  Tensor notBool(DType::I32, {2}), x(DType::F32, {2}), y(DType::F32, {2});
  expectErrorContaining([&] { select(notBool, x, y, x); },
                        "select: condition has dtype i32");
}

TEST(CpuElementwise, GeluTanhGradMatchesAnalyticDerivativeInBf16) {
  std::mt19937 rng(6);
  Tensor x = randomTensor(DType::BF16, {50}, rng, -3, 3);
  Tensor dy = randomTensor(DType::BF16, {50}, rng, -1, 1);
  Tensor dx(DType::BF16, {50});
  geluTanhGrad(x, dy, dx);
  std::vector<double> expected;
  for (int64_t i = 0; i < 50; ++i) {
    // Derivative by the quotient-free identity d/dx tanh = sech^2.
    double v = x.at(i), c = std::sqrt(2.0 / M_PI);
    double u = c * (v + 0.044715 * v * v * v);
    double sech = 1.0 / std::cosh(u);
    double d = 0.5 * (1 + std::tanh(u)) +
               0.5 * v * sech * sech * c * (1 + 3 * 0.044715 * v * v);
    expected.push_back(dy.at(i) * d);
  }
  expectClose(dx, expected, 1e-6, roundingTolerance(DType::BF16),
              "gelu_tanh_grad bf16");
}

TEST(CpuElementwise, ShapeAndDTypeMismatchesAreErrors) {
  Tensor a(DType::F32, {2, 3}), b(DType::F32, {3, 2}), c(DType::BF16, {2, 3});
  Tensor out(DType::F32, {2, 3});
  expectErrorContaining([&] { binary(BinaryOp::Add, a, b, out); },
                        "add: rhs has shape [3, 2], expected [2, 3]");
  expectErrorContaining([&] { binary(BinaryOp::Add, a, c, out); },
                        "add: lhs is f32 but rhs is bf16");
  Tensor boolean(DType::Bool, {2, 3});
  expectErrorContaining(
      [&] { binary(BinaryOp::Add, boolean, boolean, boolean); },
      "add: not defined on i1");
}

} // namespace
} // namespace pgc::cpu
