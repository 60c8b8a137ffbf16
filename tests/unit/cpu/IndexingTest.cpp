// gather, scatter and scatter_add against per-element loops, and their
// out-of-range errors.
#include "runtime/cpu/Kernels.h"
#include "tests/unit/cpu/TestUtil.h"

namespace pgc::cpu {
namespace {
using namespace test;

TEST(CpuIndexing, GatherRowsOfAnyRankTable) {
  std::mt19937 rng(51);
  for (DType idType : {DType::I32, DType::I64})
    for (const Shape &tableShape : {Shape{10, 4}, Shape{6, 2, 3}, Shape{5}}) {
      Tensor table = randomTensor(DType::BF16, tableShape, rng);
      Tensor ids = randomInts(idType, {2, 3}, rng, 0, tableShape[0] - 1);
      Shape outShape = {2, 3};
      outShape.insert(outShape.end(), tableShape.begin() + 1, tableShape.end());
      Tensor out(DType::BF16, outShape);
      gather(table, ids, out);
      int64_t rowSize = table.numel() / tableShape[0];
      for (int64_t i = 0; i < out.numel(); ++i) {
        int64_t id = static_cast<int64_t>(ids.at(i / rowSize));
        ASSERT_EQ(out.at(i), table.at(id * rowSize + i % rowSize));
      }
    }
}

TEST(CpuIndexing, GatherNamesTheBadId) {
  Tensor table(DType::F32, {4, 2}), ids(DType::I64, {3}),
      out(DType::F32, {3, 2});
  ids.set(1, 7);
  expectErrorContaining([&] { gather(table, ids, out); },
                        "gather: id 7 at position 1 is outside [0, 4)");
  ids.set(1, -1);
  expectErrorContaining([&] { gather(table, ids, out); }, "id -1");
  Tensor floatIds(DType::F32, {3});
  expectErrorContaining([&] { gather(table, floatIds, out); },
                        "gather: ids must be i32 or i64, got f32");
}

TEST(CpuIndexing, ScatterAddAccumulatesRepeatedIds) {
  std::mt19937 rng(52);
  for (DType dtype : {DType::F32, DType::F64, DType::BF16}) {
    Tensor ids = randomInts(DType::I32, {3, 5}, rng, 0, 3); // many repeats
    Tensor dy = randomTensor(dtype, {3, 5, 6}, rng);
    Tensor dtable(dtype, {7, 6});
    dtable.set(0, 123.0); // must be overwritten, not accumulated into
    scatterAdd(ids, dy, dtable);
    std::vector<double> expected(7 * 6, 0.0);
    for (int64_t i = 0; i < 15; ++i)
      for (int64_t c = 0; c < 6; ++c)
        expected[static_cast<int64_t>(ids.at(i)) * 6 + c] += dy.at(i * 6 + c);
    expectClose(dtable, expected, 1e-6, roundingTolerance(dtype),
                "scatter_add");
  }
}

// The adjoint identity <gather(T, ids), dy> = <T, scatter_add(ids, dy)>.
TEST(CpuIndexing, ScatterAddIsTheAdjointOfGather) {
  std::mt19937 rng(53);
  Tensor table = randomTensor(DType::F64, {9, 4}, rng);
  Tensor ids = randomInts(DType::I64, {2, 7}, rng, 0, 8);
  Tensor dy = randomTensor(DType::F64, {2, 7, 4}, rng);
  Tensor gathered(DType::F64, {2, 7, 4}), dtable(DType::F64, {9, 4});
  gather(table, ids, gathered);
  scatterAdd(ids, dy, dtable);
  double left = 0, right = 0;
  for (int64_t i = 0; i < dy.numel(); ++i)
    left += gathered.at(i) * dy.at(i);
  for (int64_t i = 0; i < table.numel(); ++i)
    right += table.at(i) * dtable.at(i);
  EXPECT_NEAR(left, right, 1e-12 * (std::fabs(left) + 1));
}

TEST(CpuIndexing, ScatterReplacesRowsPerBatch) {
  std::mt19937 rng(54);
  Tensor dest = randomTensor(DType::BF16, {2, 6, 3}, rng);
  Tensor indices(DType::I64, {2, 3});
  int64_t rows[2][3] = {{0, 2, 5}, {4, 1, 4}}; // batch 1 repeats row 4
  for (int b = 0; b < 2; ++b)
    for (int n = 0; n < 3; ++n)
      indices.set(b * 3 + n, rows[b][n]);
  Tensor updates = randomTensor(DType::BF16, {2, 3, 3}, rng);
  Tensor out(DType::BF16, {2, 6, 3});
  scatter(dest, indices, updates, out);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t l = 0; l < 6; ++l) {
      int64_t source = -1; // last n that writes row l wins
      for (int64_t n = 0; n < 3; ++n)
        if (rows[b][n] == l)
          source = n;
      for (int64_t c = 0; c < 3; ++c) {
        double expected = source < 0 ? dest.at((b * 6 + l) * 3 + c)
                                     : updates.at((b * 3 + source) * 3 + c);
        ASSERT_EQ(out.at((b * 6 + l) * 3 + c), expected);
      }
    }
  indices.set(4, 6);
  expectErrorContaining([&] { scatter(dest, indices, updates, out); },
                        "scatter: row index 6 at position 4 is outside [0, 6)");
  Tensor badUpdates(DType::BF16, {2, 3, 4});
  expectErrorContaining(
      [&] { scatter(dest, indices, badUpdates, out); },
      "scatter: updates has shape [2, 3, 4], expected [2, 3, 3]");
}

} // namespace
} // namespace pgc::cpu
