// reshape, transpose, broadcast, slice and concat against index arithmetic
// written out per element.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

TEST(CpuLayout, ReshapeCopiesBytes) {
  std::mt19937 rng(41);
  Tensor x = randomTensor(DType::BF16, {2, 6}, rng);
  Tensor out(DType::BF16, {3, 2, 2});
  reshape(x, out);
  EXPECT_EQ(valuesOf(out), valuesOf(x));
  Tensor wrong(DType::BF16, {5});
  expectErrorContaining([&] { reshape(x, wrong); },
                        "reshape: cannot reshape [2, 6] (12 elements)");
}

TEST(CpuLayout, TransposeEveryPermutationOfRank3) {
  std::mt19937 rng(42);
  Tensor x = randomInts(DType::I64, {2, 3, 4}, rng, -100, 100);
  std::vector<int64_t> perm = {0, 1, 2};
  do {
    Shape outShape = {x.dim(perm[0]), x.dim(perm[1]), x.dim(perm[2])};
    Tensor out(DType::I64, outShape);
    transpose(x, perm, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      std::vector<int64_t> o = unflatten(i, outShape), in(3);
      for (int d = 0; d < 3; ++d)
        in[perm[d]] = o[d];
      ASSERT_EQ(out.at(i), x.at(flatten(in, x.shape())));
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  Tensor out(DType::I64, {2, 3, 4});
  expectErrorContaining(
      [&] {
        transpose(x, {0, 0, 1}, out);
      },
      "transpose: [0, 0, 1] is not a permutation");
}

TEST(CpuLayout, BroadcastAlignsTrailingDims) {
  std::mt19937 rng(43);
  struct Case {
    Shape from, to;
  };
  for (const Case &c :
       {Case{{3, 1}, {2, 3, 4}}, Case{{}, {2, 2}}, Case{{4}, {3, 4}},
        Case{{1, 1}, {1, 5}}, Case{{2, 1, 3}, {2, 4, 3}}}) {
    Tensor x = randomTensor(DType::F32, c.from, rng);
    Tensor out(DType::F32, c.to);
    broadcast(x, out);
    int64_t lead = static_cast<int64_t>(c.to.size() - c.from.size());
    for (int64_t i = 0; i < out.numel(); ++i) {
      std::vector<int64_t> o = unflatten(i, c.to), in;
      for (size_t d = 0; d < c.from.size(); ++d)
        in.push_back(c.from[d] == 1 ? 0 : o[lead + d]);
      ASSERT_EQ(out.at(i), x.at(flatten(in, c.from)));
    }
  }
  Tensor x(DType::F32, {3}), out(DType::F32, {2, 4});
  expectErrorContaining([&] { broadcast(x, out); },
                        "broadcast: cannot broadcast [3] to [2, 4]");
}

TEST(CpuLayout, SliceWithStrides) {
  std::mt19937 rng(44);
  Tensor x = randomTensor(DType::F64, {5, 7, 3}, rng);
  std::vector<int64_t> start = {1, 0, 2}, limit = {5, 7, 3}, stride = {2, 3, 1};
  Shape outShape = {2, 3, 1};
  Tensor out(DType::F64, outShape);
  slice(x, start, limit, stride, out);
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> o = unflatten(i, outShape), in(3);
    for (int d = 0; d < 3; ++d)
      in[d] = start[d] + o[d] * stride[d];
    ASSERT_EQ(out.at(i), x.at(flatten(in, x.shape())));
  }
  expectErrorContaining(
      [&] {
        slice(x, {0, 0, 0}, {6, 7, 3}, {1, 1, 1}, out);
      },
      "slice: dim 0 of [5, 7, 3]: start 0, limit 6, stride 1");
  expectErrorContaining(
      [&] {
        slice(x, start, limit, {1, 3, 1}, out);
      },
      "slice: result has shape [2, 3, 1], expected [4, 3, 1]");
}

TEST(CpuLayout, ConcatAlongEachAxis) {
  std::mt19937 rng(45);
  for (int64_t axis : {0, 1, 2, -1}) {
    int64_t a = axis < 0 ? axis + 3 : axis;
    std::vector<Tensor> inputs;
    Shape outShape = {2, 3, 4};
    outShape[a] = 0;
    for (int64_t extent : {1, 3, 2}) {
      Shape shape = {2, 3, 4};
      shape[a] = extent;
      inputs.push_back(randomTensor(DType::BF16, shape, rng));
      outShape[a] += extent;
    }
    Tensor out(DType::BF16, outShape);
    concat(inputs, axis, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      std::vector<int64_t> index = unflatten(i, outShape);
      size_t which = 0;
      while (index[a] >= inputs[which].dim(a)) {
        index[a] -= inputs[which].dim(a);
        ++which;
      }
      ASSERT_EQ(out.at(i),
                inputs[which].at(flatten(index, inputs[which].shape())));
    }
  }
  std::vector<Tensor> mismatched = {Tensor(DType::F32, {2, 3}),
                                    Tensor(DType::F32, {3, 3})};
  Tensor out(DType::F32, {2, 6});
  expectErrorContaining([&] { concat(mismatched, 1, out); },
                        "concat: input 1 has shape [3, 3], incompatible");
}

} // namespace
} // namespace pgc::cpu
