// reduce_sum/max/mean and cumsum against naive loops over multi-indices in
// double.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

#include <algorithm>

namespace pgc::cpu {
namespace {
using namespace test;

enum class Kind { Sum, Max, Mean };

// Reference: visit every input element and fold it into the output element
// whose index is the input index with reduced dims dropped (or set to 0).
std::vector<double> referenceReduce(Kind kind, const Tensor &x,
                                    const std::vector<int64_t> &axes,
                                    bool keepDims, Shape &outShape) {
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes)
    reduced[a < 0 ? a + x.rank() : a] = true;
  outShape.clear();
  for (int64_t d = 0; d < x.rank(); ++d)
    if (!reduced[d])
      outShape.push_back(x.dim(d));
    else if (keepDims)
      outShape.push_back(1);
  int64_t outCount = numElements(outShape);
  std::vector<double> acc(outCount, kind == Kind::Max ? -INFINITY : 0.0);
  std::vector<int64_t> counts(outCount, 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::vector<int64_t> index = unflatten(i, x.shape()), outIndex;
    for (int64_t d = 0; d < x.rank(); ++d)
      if (!reduced[d])
        outIndex.push_back(index[d]);
      else if (keepDims)
        outIndex.push_back(0);
    int64_t o = flatten(outIndex, outShape);
    acc[o] = kind == Kind::Max ? std::max(acc[o], x.at(i)) : acc[o] + x.at(i);
    ++counts[o];
  }
  if (kind == Kind::Mean)
    for (int64_t o = 0; o < outCount; ++o)
      acc[o] /= counts[o];
  return acc;
}

void runReduce(Kind kind, const Tensor &x, const std::vector<int64_t> &axes,
               bool keepDims, Tensor &out) {
  if (kind == Kind::Sum)
    reduceSum(x, axes, keepDims, out);
  else if (kind == Kind::Max)
    reduceMax(x, axes, keepDims, out);
  else
    reduceMean(x, axes, keepDims, out);
}

TEST(CpuReduce, FloatReductionsOverAxisSets) {
  std::mt19937 rng(21);
  std::vector<std::vector<int64_t>> axisSets = {
      {}, {0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}};
  for (DType dtype : {DType::F32, DType::BF16, DType::F64})
    for (Kind kind : {Kind::Sum, Kind::Max, Kind::Mean})
      for (const auto &axes : axisSets)
        for (bool keepDims : {false, true}) {
          Tensor x = randomTensor(dtype, {3, 4, 5}, rng);
          Shape outShape;
          std::vector<double> expected =
              referenceReduce(kind, x, axes, keepDims, outShape);
          Tensor out(dtype, outShape);
          runReduce(kind, x, axes, keepDims, out);
          expectClose(out, expected, dtype == DType::F64 ? 1e-14 : 1e-5,
                      roundingTolerance(dtype), "reduce");
        }
}

TEST(CpuReduce, Bf16SumIntoF32Output) {
  std::mt19937 rng(22);
  Tensor x = randomTensor(DType::BF16, {6, 33}, rng);
  Shape outShape;
  std::vector<double> expected =
      referenceReduce(Kind::Sum, x, {1}, false, outShape);
  Tensor out(DType::F32, outShape);
  reduceSum(x, {1}, false, out);
  expectClose(out, expected, 1e-5, 1e-5, "bf16 -> f32 sum");
}

TEST(CpuReduce, IntegerSumAndMaxAreExact) {
  std::mt19937 rng(23);
  for (DType dtype : {DType::I32, DType::I64}) {
    Tensor x = randomInts(dtype, {4, 3, 2}, rng, -1000, 1000);
    for (Kind kind : {Kind::Sum, Kind::Max}) {
      Shape outShape;
      std::vector<double> expected =
          referenceReduce(kind, x, {0, 2}, true, outShape);
      Tensor out(dtype, outShape);
      runReduce(kind, x, {0, 2}, true, out);
      expectClose(out, expected, 0, 0, "integer reduce");
    }
    Tensor meanOut(dtype, {3});
    expectErrorContaining(
        [&] {
          reduceMean(x, {0, 2}, false, meanOut);
        },
        "reduce_mean: operand must be a float tensor");
  }
}

TEST(CpuReduce, BadAxesAndShapesAreErrors) {
  Tensor x(DType::F32, {2, 3}), out(DType::F32, {2});
  expectErrorContaining(
      [&] {
        reduceSum(x, {1, -1}, false, out);
      },
      "reduce_sum: axis -1 is listed twice");
  expectErrorContaining([&] { reduceSum(x, {2}, false, out); },
                        "reduce_sum: axis 2 is out of range for rank 2");
  expectErrorContaining([&] { reduceMax(x, {0}, false, out); },
                        "reduce_max: result has shape [2], expected [3]");
}

TEST(CpuCumsum, FloatsAndIntsAlongEachAxis) {
  std::mt19937 rng(24);
  for (DType dtype :
       {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64})
    for (int64_t axis : {0, 1, 2, -1}) {
      Tensor x = isFloat(dtype) ? randomTensor(dtype, {3, 4, 5}, rng)
                                : randomInts(dtype, {3, 4, 5}, rng, -50, 50);
      Tensor out(dtype, x.shape());
      cumsum(x, axis, out);
      int64_t a = axis < 0 ? axis + 3 : axis;
      std::vector<double> expected(x.numel(), 0.0);
      for (int64_t i = 0; i < x.numel(); ++i) {
        std::vector<int64_t> index = unflatten(i, x.shape());
        int64_t upTo = index[a];
        for (int64_t j = 0; j <= upTo; ++j) {
          index[a] = j;
          expected[i] += x.at(flatten(index, x.shape()));
        }
      }
      expectClose(out, expected, isFloat(dtype) ? 1e-5 : 0,
                  isFloat(dtype) ? roundingTolerance(dtype) : 0, "cumsum");
    }
}

} // namespace
} // namespace pgc::cpu
