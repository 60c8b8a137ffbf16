// GPU layout and indexing kernels against the CPU reference kernels, byte for
// byte (on a device), and their launch-time checks and plans (anywhere).
#include "GpuFixture.h"

#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/kernels/Layout.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

namespace pgc::cuda {
namespace {

using GpuLayout = GpuTest;

const DType kAllDTypes[] = {DType::BF16, DType::F16, DType::F32, DType::F64,
                            DType::I32,  DType::I64, DType::U8,  DType::Bool};
// One dtype of each element width, and Bool.
const DType kWidths[] = {DType::U8, DType::BF16, DType::F32, DType::F64,
                         DType::Bool};
const DType kFloats[] = {DType::BF16, DType::F16, DType::F32, DType::F64};

// Random bytes: every bit pattern (NaNs included) must move unchanged. Bool
// stays 0/1.
Tensor randomBits(DType dtype, const Shape &shape, uint32_t seed) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  auto *bytes = static_cast<uint8_t *>(t.raw());
  for (size_t i = 0; i < t.byteSize(); ++i)
    bytes[i] = dtype == DType::Bool ? rng() & 1 : static_cast<uint8_t>(rng());
  return t;
}

// Finite floats over six decades, so that the order of a sum shows in its
// last bits.
Tensor randomFloats(DType dtype, const Shape &shape, uint32_t seed) {
  Tensor wide(DType::F64, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> decade(-3.0, 3.0);
  for (int64_t i = 0; i < wide.numel(); ++i)
    wide.data<double>()[i] = normal(rng) * std::pow(10.0, decade(rng));
  return dtype == DType::F64 ? wide : wide.to(dtype);
}

Tensor makeIds(DType dtype, const Shape &shape, int64_t rows, uint32_t seed,
               double zeroShare = 0.0) {
  Tensor ids(dtype, shape);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> any(0, rows - 1);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    int64_t id = coin(rng) < zeroShare ? 0 : any(rng);
    if (i == 0)
      id = rows - 1; // the edges
    if (i == ids.numel() - 1)
      id = 0;
    if (dtype == DType::I32)
      ids.data<int32_t>()[i] = static_cast<int32_t>(id);
    else
      ids.data<int64_t>()[i] = id;
  }
  return ids;
}

using OnDevice = GpuTest::OnDevice;

::testing::AssertionResult sameBytes(const Tensor &expected,
                                     const DeviceTensor &got) {
  std::vector<uint8_t> bytes(got.bytes());
  if (!bytes.empty()) {
    copyToHost(GpuTest::stream(), bytes.data(), got.address, bytes.size());
    GpuTest::stream().synchronize();
  }
  if (bytes.size() != expected.byteSize())
    return ::testing::AssertionFailure()
           << "size " << bytes.size() << " vs " << expected.byteSize();
  const auto *want = static_cast<const uint8_t *>(expected.raw());
  for (size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] != want[i])
      return ::testing::AssertionFailure()
             << "first difference at byte " << i << " (element "
             << i / dtypeSize(expected.dtype()) << "): got " << int(bytes[i])
             << ", expected " << int(want[i]);
  return ::testing::AssertionSuccess();
}

std::string describe(DType dtype, const Shape &shape) {
  return std::string(dtypeName(dtype)) + formatShape(shape);
}

TEST_F(GpuLayout, TransposeMatchesTheCpuForEveryPermutationShapeAndWidth) {
  Module module = load(layoutSource());
  struct Case {
    Shape shape;
    std::vector<int64_t> perm;
  };
  std::vector<Case> cases = {
      {{7}, {0}},
      {{3, 5}, {1, 0}},
      {{3, 5}, {0, 1}},
      {{33, 65}, {1, 0}},
      {{64, 64}, {0, 1}}, // identity: one contiguous run, 16-byte units
      {{4, 1, 6, 5}, {2, 0, 3, 1}},
      {{4, 1, 6, 5}, {3, 2, 1, 0}},
      {{2, 3, 2, 3, 2, 3, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}},
      {{2, 3, 2, 3, 2, 3, 2, 3}, {7, 0, 6, 1, 5, 2, 4, 3}},
      {{2, 3, 2, 3, 2, 3, 2, 3}, {0, 1, 2, 3, 4, 5, 6, 7}},
      {{2, 1, 3, 2, 1, 2, 3, 2}, {1, 0, 3, 2, 5, 4, 7, 6}},
      {{129, 257, 31}, {2, 0, 1}}, // past one wave: grid-stride loops
  };
  std::vector<int64_t> perm = {0, 1, 2};
  do
    cases.push_back({{2, 3, 5}, perm});
  while (std::next_permutation(perm.begin(), perm.end()));
  uint32_t seed = 1;
  for (DType dtype : kWidths)
    for (const Case &c : cases) {
      Tensor x = randomBits(dtype, c.shape, seed++);
      Shape outShape;
      for (int64_t p : c.perm)
        outShape.push_back(c.shape[p]);
      Tensor expected(dtype, outShape);
      cpu::transpose(x, c.perm, expected);
      OnDevice in = put(x), out = space(dtype, outShape);
      launchTranspose(module, stream(), in.tensor, c.perm, out.tensor);
      EXPECT_TRUE(sameBytes(expected, out.tensor))
          << describe(dtype, c.shape) << " perm " << formatShape(c.perm);
    }
}

TEST_F(GpuLayout, BroadcastMatchesTheCpu) {
  Module module = load(layoutSource());
  std::vector<std::pair<Shape, Shape>> cases = {
      {{1}, {5, 7}},
      {{}, {4, 5}},
      {{7}, {3, 7}},
      {{3, 1}, {2, 3, 4}},
      {{2, 1, 3}, {2, 5, 3}},
      {{5, 6}, {5, 6}},
      {{1, 1000}, {300, 1000}},
      {{301, 1}, {301, 517}},
      {{1, 2, 1, 3, 1, 2, 1, 2}, {2, 2, 3, 3, 2, 2, 2, 2}},
  };
  uint32_t seed = 100;
  for (DType dtype : kWidths)
    for (const auto &[xShape, outShape] : cases) {
      Tensor x = randomBits(dtype, xShape, seed++);
      Tensor expected(dtype, outShape);
      cpu::broadcast(x, expected);
      OnDevice in = put(x), out = space(dtype, outShape);
      launchBroadcast(module, stream(), in.tensor, out.tensor);
      EXPECT_TRUE(sameBytes(expected, out.tensor))
          << describe(dtype, xShape) << " to " << formatShape(outShape);
    }
}

TEST_F(GpuLayout, SliceMatchesTheCpu) {
  Module module = load(layoutSource());
  struct Case {
    Shape shape;
    std::vector<int64_t> start, limit, stride;
  };
  std::vector<Case> cases = {
      {{10}, {1}, {9}, {3}},
      {{10}, {0}, {10}, {1}},
      {{7, 9}, {1, 2}, {6, 9}, {2, 1}},
      {{7, 9}, {3, 0}, {3, 9}, {1, 1}}, // empty
      {{4, 6, 8}, {0, 0, 0}, {4, 6, 8}, {1, 1, 1}},
      {{4, 6, 8}, {1, 0, 4}, {4, 6, 8}, {1, 1, 1}}, // aligned half rows
      {{300, 515}, {1, 3}, {299, 515}, {1, 2}},
      {{2, 3, 2, 3, 2, 3, 2, 3},
       {1, 0, 0, 1, 0, 2, 1, 0},
       {2, 3, 2, 3, 2, 3, 2, 3},
       {1, 2, 1, 1, 2, 1, 1, 2}},
  };
  uint32_t seed = 200;
  for (DType dtype : kWidths)
    for (const Case &c : cases) {
      Tensor x = randomBits(dtype, c.shape, seed++);
      Shape outShape;
      for (size_t d = 0; d < c.shape.size(); ++d)
        outShape.push_back((c.limit[d] - c.start[d] + c.stride[d] - 1) /
                           c.stride[d]);
      Tensor expected(dtype, outShape);
      cpu::slice(x, c.start, c.limit, c.stride, expected);
      OnDevice in = put(x), out = space(dtype, outShape);
      launchSlice(module, stream(), in.tensor, c.start, c.limit, c.stride,
                  out.tensor);
      EXPECT_TRUE(sameBytes(expected, out.tensor))
          << describe(dtype, c.shape) << " start " << formatShape(c.start)
          << " limit " << formatShape(c.limit) << " stride "
          << formatShape(c.stride);
    }
}

TEST_F(GpuLayout, ConcatMatchesTheCpu) {
  Module module = load(layoutSource());
  std::vector<std::pair<std::vector<Shape>, int64_t>> cases = {
      {{{3}, {5}, {1}}, 0},
      {{{2, 3, 4}, {2, 1, 4}, {2, 0, 4}, {2, 5, 4}}, 1},
      {{{2, 3}, {2, 4}}, -1},
      {{{1, 6}, {3, 6}}, 0},
      {{{3, 2, 5}, {3, 2, 7}}, 2},
      {{{16, 256, 64}, {16, 1, 64}}, 1}, // 16-byte blocks for 4-byte dtypes
      {{{7, 1000}, {7, 24}, {7, 3}}, 1},
  };
  uint32_t seed = 300;
  for (DType dtype : kWidths)
    for (const auto &[shapes, axis] : cases) {
      std::vector<Tensor> inputs;
      std::vector<OnDevice> onDevice;
      std::vector<DeviceTensor> refs;
      Shape outShape = shapes[0];
      int64_t a = axis < 0 ? axis + int64_t(outShape.size()) : axis;
      outShape[a] = 0;
      for (const Shape &shape : shapes) {
        inputs.push_back(randomBits(dtype, shape, seed++));
        onDevice.push_back(put(inputs.back()));
        refs.push_back(onDevice.back().tensor);
        outShape[a] += shape[a];
      }
      Tensor expected(dtype, outShape);
      cpu::concat(inputs, axis, expected);
      OnDevice out = space(dtype, outShape);
      launchConcat(module, stream(), refs, axis, out.tensor);
      EXPECT_TRUE(sameBytes(expected, out.tensor))
          << describe(dtype, outShape) << " axis " << axis;
    }
}

TEST_F(GpuLayout, IotaMatchesTheCpuInEveryDType) {
  Module module = load(layoutSource());
  for (DType dtype : kAllDTypes) {
    for (int64_t dim : {0, 1, 2, -1}) {
      Tensor expected(dtype, {3, 5, 7});
      cpu::iota(dim, expected);
      OnDevice out = space(dtype, {3, 5, 7});
      launchIota(module, stream(), dim, out.tensor);
      EXPECT_TRUE(sameBytes(expected, out.tensor))
          << dtypeName(dtype) << " dim " << dim;
    }
    // Past 2^24 (f32 and bf16 round, f16 overflows, u8 wraps) and a rank 1.
    Shape shape = {(int64_t(1) << 24) + 7};
    Tensor expected(dtype, shape);
    cpu::iota(0, expected);
    OnDevice out = space(dtype, shape);
    launchIota(module, stream(), 0, out.tensor);
    EXPECT_TRUE(sameBytes(expected, out.tensor)) << describe(dtype, shape);
  }
}

TEST_F(GpuLayout, ReshapeIsADeviceCopy) {
  Tensor x = randomBits(DType::BF16, {6, 5}, 400);
  Tensor expected(DType::BF16, {3, 10});
  cpu::reshape(x, expected);
  OnDevice in = put(x), out = space(DType::BF16, {3, 10});
  launchReshape(stream(), in.tensor, out.tensor);
  EXPECT_TRUE(sameBytes(expected, out.tensor));
  // In place: nothing to do, the bytes stay.
  DeviceTensor alias{in.tensor.address, DType::BF16, {30}};
  launchReshape(stream(), in.tensor, alias);
  EXPECT_TRUE(sameBytes(x, in.tensor));
}

TEST_F(GpuLayout, GatherMatchesTheCpu) {
  Module module = load(indexingSource());
  DeviceBuffer word(context(), 8);
  std::vector<std::pair<Shape, Shape>> cases = {
      {{9, 5}, {}},          {{9, 5}, {6}},         {{9}, {2, 3}},
      {{4, 3, 2}, {7}},      {{1000, 130}, {4096}}, {{1, 4}, {3}},
      {{257, 64}, {16, 33}},
  };
  uint32_t seed = 500;
  for (DType idType : {DType::I32, DType::I64})
    for (DType dtype : kWidths)
      for (const auto &[tableShape, idShape] : cases) {
        Tensor table = randomBits(dtype, tableShape, seed++);
        Tensor ids = makeIds(idType, idShape, tableShape[0], seed++);
        Shape outShape = idShape;
        outShape.insert(outShape.end(), tableShape.begin() + 1,
                        tableShape.end());
        Tensor expected(dtype, outShape);
        cpu::gather(table, ids, expected);
        OnDevice t = put(table), i = put(ids), out = space(dtype, outShape);
        IdCheck check = launchGather(module, stream(), t.tensor, i.tensor,
                                     out.tensor, word.address());
        EXPECT_NO_THROW(check.verify(stream()));
        EXPECT_TRUE(sameBytes(expected, out.tensor))
            << describe(dtype, tableShape) << " ids "
            << describe(idType, idShape);
      }
}

TEST_F(GpuLayout, ScatterAddAddsInTheCpuOrderForEveryDTypePair) {
  Module module = load(indexingSource());
  DeviceBuffer word(context(), 8);
  struct Case {
    Shape table, ids;
    double zeroShare; // share of ids that are 0: many duplicates
  };
  std::vector<Case> cases = {
      {{5, 7}, {3000}, 0.5},     {{11}, {4, 9}, 0.0},
      {{3, 2, 3}, {2, 50}, 0.3}, {{1000, 33}, {64, 64}, 0.0},
      {{1, 3}, {5}, 0.0},        {{300, 2048}, {4096}, 0.5},
      {{6000, 5}, {20000}, 0.2}, // more rows than the order kernel's buckets
  };
  uint32_t seed = 600;
  for (DType dyType : kFloats)
    for (DType tableType : kFloats)
      for (const Case &c : cases) {
        DType idType = seed % 2 ? DType::I32 : DType::I64;
        Tensor ids = makeIds(idType, c.ids, c.table[0], seed++, c.zeroShare);
        Shape dyShape = c.ids;
        dyShape.insert(dyShape.end(), c.table.begin() + 1, c.table.end());
        Tensor dy = randomFloats(dyType, dyShape, seed++);
        Tensor expected(tableType, c.table);
        cpu::scatterAdd(ids, dy, expected);
        OnDevice i = put(ids), d = put(dy), out = space(tableType, c.table);
        DeviceBuffer workspace(context(),
                               scatterAddWorkspaceBytes(i.tensor, out.tensor));
        fillBytes(stream(), workspace.address(), 0xab, workspace.bytes());
        std::string what =
            describe(dyType, dyShape) + " into " + describe(tableType, c.table);
        for (int run = 0; run < 2; ++run) { // the same bits every run
          IdCheck check =
              launchScatterAdd(module, stream(), i.tensor, d.tensor, out.tensor,
                               workspace.address(), word.address());
          EXPECT_NO_THROW(check.verify(stream())) << what;
          EXPECT_TRUE(sameBytes(expected, out.tensor))
              << what << " run " << run;
        }
      }
}

TEST_F(GpuLayout, ScatterMatchesTheCpuAndKeepsTheLastUpdate) {
  Module module = load(indexingSource());
  DeviceBuffer word(context(), 8);
  struct Case {
    Shape dest;
    int64_t count;
  };
  std::vector<Case> cases = {
      {{2, 10, 6}, 4},      {{2, 10, 6}, 40}, // 40 updates of 10 rows: repeats
      {{1, 300, 129}, 256}, {{3, 5, 1}, 0},   {{4, 7, 16}, 7}, {{2, 3, 0}, 2},
  };
  uint32_t seed = 700;
  for (DType dtype : kWidths)
    for (const Case &c : cases)
      for (bool inPlace : {false, true}) {
        DType idType = seed % 2 ? DType::I32 : DType::I64;
        Shape updateShape = {c.dest[0], c.count, c.dest[2]};
        Tensor dest = randomBits(dtype, c.dest, seed++);
        Tensor updates = randomBits(dtype, updateShape, seed++);
        Tensor indices =
            makeIds(idType, {c.dest[0], c.count}, c.dest[1], seed++, 0.2);
        Tensor expected(dtype, c.dest);
        cpu::scatter(dest, indices, updates, expected);
        OnDevice d = put(dest), u = put(updates), i = put(indices),
                 out = space(dtype, c.dest);
        DeviceBuffer workspace(context(), scatterWorkspaceBytes(d.tensor));
        const DeviceTensor &target = inPlace ? d.tensor : out.tensor;
        IdCheck check =
            launchScatter(module, stream(), d.tensor, i.tensor, u.tensor,
                          target, workspace.address(), word.address());
        EXPECT_NO_THROW(check.verify(stream()));
        EXPECT_TRUE(sameBytes(expected, target))
            << describe(dtype, c.dest) << " count " << c.count
            << (inPlace ? " in place" : "");
      }
}

std::string messageOf(const std::function<void()> &body) {
  try {
    body();
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

// A bad id is reported after the launch, with the CPU's message: the first
// bad position, whatever the order the threads found them in.
TEST_F(GpuLayout, BadIdsFailWithTheCpuMessage) {
  Module module = load(indexingSource());
  DeviceBuffer word(context(), 8);
  Tensor ids(DType::I64, {2, 4});
  std::vector<int64_t> values = {0, 1, 2, 9, 3, -1, 9, 0};
  std::copy(values.begin(), values.end(), ids.data<int64_t>());
  OnDevice i = put(ids);

  Tensor table = randomBits(DType::F32, {9, 3}, 800);
  Tensor gathered(DType::F32, {2, 4, 3});
  OnDevice t = put(table), g = space(DType::F32, {2, 4, 3});
  std::string cpuMessage =
      messageOf([&] { cpu::gather(table, ids, gathered); });
  EXPECT_EQ(messageOf([&] {
              launchGather(module, stream(), t.tensor, i.tensor, g.tensor,
                           word.address())
                  .verify(stream());
            }),
            cpuMessage);
  EXPECT_NE(cpuMessage.find("id 9 at position 3"), std::string::npos)
      << cpuMessage;

  Tensor dy = randomFloats(DType::F32, {2, 4, 3}, 801);
  Tensor dtable(DType::F32, {9, 3});
  OnDevice d = put(dy), dt = space(DType::F32, {9, 3});
  DeviceBuffer workspace(context(),
                         scatterAddWorkspaceBytes(i.tensor, dt.tensor));
  EXPECT_EQ(messageOf([&] {
              launchScatterAdd(module, stream(), i.tensor, d.tensor, dt.tensor,
                               workspace.address(), word.address())
                  .verify(stream());
            }),
            messageOf([&] { cpu::scatterAdd(ids, dy, dtable); }));

  Tensor dest = randomBits(DType::F32, {2, 8, 3}, 802);
  Tensor updates = randomBits(DType::F32, {2, 4, 3}, 803);
  Tensor scattered(DType::F32, {2, 8, 3});
  OnDevice de = put(dest), up = put(updates), sc = space(DType::F32, {2, 8, 3});
  DeviceBuffer last(context(), scatterWorkspaceBytes(de.tensor));
  EXPECT_EQ(messageOf([&] {
              launchScatter(module, stream(), de.tensor, i.tensor, up.tensor,
                            sc.tensor, last.address(), word.address())
                  .verify(stream());
            }),
            messageOf([&] { cpu::scatter(dest, ids, updates, scattered); }));
}

// ---- Without a device: the plans and the launch-time checks. ----

DeviceTensor refOf(const Tensor &t, api::CUdeviceptr address = 0x10000) {
  return {address, t.dtype(), t.shape()};
}

TEST(LayoutPlan, MergesDimsAsTheCpuAndWidensContiguousRuns) {
  Tensor x(DType::F32, {4, 6}), same(DType::F32, {4, 6});
  StridedCopyPlan identity = planTranspose(refOf(x), {0, 1}, refOf(same));
  EXPECT_EQ(identity.extents, (std::vector<int64_t>{6}));
  EXPECT_EQ(identity.strides, (std::vector<int64_t>{1}));
  EXPECT_EQ(identity.unitBytes, 16);

  Tensor t(DType::F32, {6, 4});
  StridedCopyPlan swap = planTranspose(refOf(x), {1, 0}, refOf(t));
  EXPECT_EQ(swap.extents, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(swap.strides, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(swap.unitBytes, 4);

  // A misaligned destination keeps 4-byte units.
  StridedCopyPlan unaligned =
      planTranspose(refOf(x), {0, 1}, refOf(same, 0x10004));
  EXPECT_EQ(unaligned.unitBytes, 4);
  EXPECT_EQ(unaligned.extents, (std::vector<int64_t>{24}));

  Tensor column(DType::BF16, {3, 1}), wide(DType::BF16, {2, 3, 4});
  StridedCopyPlan fill = planBroadcast(refOf(column), refOf(wide));
  EXPECT_EQ(fill.extents, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(fill.strides, (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(fill.unitBytes, 2);

  // Half rows of 4 f32 starting at element 4 of 8: 16-byte units.
  Tensor rows(DType::F32, {4, 8}), half(DType::F32, {4, 4});
  StridedCopyPlan slice =
      planSlice(refOf(rows), {0, 4}, {4, 8}, {1, 1}, refOf(half));
  EXPECT_EQ(slice.extents, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(slice.strides, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(slice.sourceOffset, 1);
  EXPECT_EQ(slice.unitBytes, 16);

  Tensor empty(DType::F32, {0, 4});
  EXPECT_EQ(
      planSlice(refOf(rows), {2, 0}, {2, 4}, {1, 1}, refOf(empty)).count(), 0);
}

TEST(LayoutPlan, RefusesMoreDimsThanTheKernelTakes) {
  Shape nine(9, 2);
  Tensor x(DType::U8, nine), out(DType::U8, nine);
  std::vector<int64_t> reversed = {8, 7, 6, 5, 4, 3, 2, 1, 0};
  EXPECT_EQ(messageOf([&] { planTranspose(refOf(x), reversed, refOf(out)); }),
            "transpose: result [2, 2, 2, 2, 2, 2, 2, 2, 2] needs 9 dims after "
            "merging, more than the GPU kernel's 8");
  // Rank 9 that merges into fewer dims is fine.
  std::vector<int64_t> identity(9);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(planTranspose(refOf(x), identity, refOf(out)).extents.size(), 1u);
}

// Every launch-time check gives the CPU kernel's own message.
TEST(LayoutChecks, FailLikeTheCpuKernels) {
  auto same = [](const std::function<void()> &cpuCall,
                 const std::function<void()> &gpuCheck) {
    std::string cpuMessage = messageOf(cpuCall);
    EXPECT_NE(cpuMessage, "(no error)");
    EXPECT_EQ(messageOf(gpuCheck), cpuMessage);
  };
  Tensor x(DType::F32, {2, 3}), wrong(DType::F32, {2, 3}),
      bf(DType::BF16, {3, 2});
  same(
      [&] {
        cpu::transpose(x, {0, 0}, wrong);
      },
      [&] {
        planTranspose(refOf(x), {0, 0}, refOf(wrong));
      });
  same(
      [&] {
        cpu::transpose(x, {1, 0}, wrong);
      },
      [&] {
        planTranspose(refOf(x), {1, 0}, refOf(wrong));
      });
  same(
      [&] {
        cpu::transpose(x, {1, 0}, bf);
      },
      [&] {
        planTranspose(refOf(x), {1, 0}, refOf(bf));
      });
  same([&] { cpu::transpose(x, {0}, wrong); },
       [&] { planTranspose(refOf(x), {0}, refOf(wrong)); });
  Tensor b(DType::F32, {4, 5});
  same([&] { cpu::broadcast(x, b); },
       [&] { planBroadcast(refOf(x), refOf(b)); });
  Tensor small(DType::F32, {3});
  same([&] { cpu::broadcast(x, small); },
       [&] { planBroadcast(refOf(x), refOf(small)); });
  Tensor s(DType::F32, {1, 2});
  same(
      [&] {
        cpu::slice(x, {0, 0}, {1, 4}, {1, 1}, s);
      },
      [&] {
        planSlice(refOf(x), {0, 0}, {1, 4}, {1, 1}, refOf(s));
      });
  same(
      [&] {
        cpu::slice(x, {0, 0}, {2, 3}, {1, 1}, s);
      },
      [&] {
        planSlice(refOf(x), {0, 0}, {2, 3}, {1, 1}, refOf(s));
      });
  same([&] { cpu::slice(x, {0}, {1}, {1}, s); },
       [&] { planSlice(refOf(x), {0}, {1}, {1}, refOf(s)); });
  Tensor r(DType::F32, {7});
  same([&] { cpu::reshape(x, r); },
       [&] { validateReshape(refOf(x), refOf(r)); });
  Tensor y(DType::F32, {3, 3}), c(DType::F32, {2, 6}), i32(DType::I32, {2, 3});
  same(
      [&] {
        cpu::concat({x, y}, 0, c);
      },
      [&] {
        validateConcat({refOf(x), refOf(y)}, 0, refOf(c));
      });
  same(
      [&] {
        cpu::concat({x, x}, 1, b);
      },
      [&] {
        validateConcat({refOf(x), refOf(x)}, 1, refOf(b));
      });
  same(
      [&] {
        cpu::concat({x, i32}, 1, c);
      },
      [&] {
        validateConcat({refOf(x), refOf(i32)}, 1, refOf(c));
      });
  same(
      [&] {
        cpu::concat({x, r}, 1, c);
      },
      [&] {
        validateConcat({refOf(x), refOf(r)}, 1, refOf(c));
      });
  same([&] { cpu::concat({}, 0, c); },
       [&] { validateConcat({}, 0, refOf(c)); });
  same([&] { cpu::concat({x}, 2, c); },
       [&] { validateConcat({refOf(x)}, 2, refOf(c)); });
  same([&] { cpu::iota(-3, c); }, [&] { validateIota(-3, refOf(c)); });

  Tensor table(DType::F32, {5, 3}), ids(DType::I64, {4}),
      f32ids(DType::F32, {4});
  std::fill(ids.data<int64_t>(), ids.data<int64_t>() + 4, 0);
  Tensor gathered(DType::F32, {4, 2}), scalar(DType::F32, {});
  same([&] { cpu::gather(table, ids, gathered); },
       [&] { validateGather(refOf(table), refOf(ids), refOf(gathered)); });
  same([&] { cpu::gather(table, f32ids, gathered); },
       [&] { validateGather(refOf(table), refOf(f32ids), refOf(gathered)); });
  same([&] { cpu::gather(scalar, ids, gathered); },
       [&] { validateGather(refOf(scalar), refOf(ids), refOf(gathered)); });
  Tensor g(DType::BF16, {4, 3});
  same([&] { cpu::gather(table, ids, g); },
       [&] { validateGather(refOf(table), refOf(ids), refOf(g)); });

  Tensor dy(DType::F32, {4, 2}), intDy(DType::I32, {4, 3}),
      intTable(DType::I32, {5, 3}), goodDy(DType::F32, {4, 3});
  same([&] { cpu::scatterAdd(ids, dy, table); },
       [&] { validateScatterAdd(refOf(ids), refOf(dy), refOf(table)); });
  same([&] { cpu::scatterAdd(ids, intDy, table); },
       [&] { validateScatterAdd(refOf(ids), refOf(intDy), refOf(table)); });
  same([&] { cpu::scatterAdd(ids, goodDy, intTable); },
       [&] { validateScatterAdd(refOf(ids), refOf(goodDy), refOf(intTable)); });
  same([&] { cpu::scatterAdd(ids, goodDy, scalar); },
       [&] { validateScatterAdd(refOf(ids), refOf(goodDy), refOf(scalar)); });

  Tensor dest(DType::F32, {2, 5, 3}), indices(DType::I32, {2, 4}),
      updates(DType::F32, {2, 4, 3}), badUpdates(DType::F32, {2, 4, 2}),
      bfUpdates(DType::BF16, {2, 4, 3}), out(DType::F32, {2, 5, 3}),
      flatIndices(DType::I32, {8}), floatIndices(DType::F32, {2, 4});
  std::fill(indices.data<int32_t>(), indices.data<int32_t>() + 8, 0);
  auto scatterBoth = [&](const Tensor &d, const Tensor &i, const Tensor &u,
                         Tensor &o) {
    same([&] { cpu::scatter(d, i, u, o); },
         [&] { validateScatter(refOf(d), refOf(i), refOf(u), refOf(o)); });
  };
  scatterBoth(table, indices, updates, out);
  scatterBoth(dest, flatIndices, updates, out);
  scatterBoth(dest, indices, badUpdates, out);
  scatterBoth(dest, indices, bfUpdates, out);
  scatterBoth(dest, indices, updates, table);
  scatterBoth(dest, floatIndices, updates, out);
}

TEST(LayoutSources, CompileToEveryKernelTheLaunchersName) {
  if (!Nvrtc::instance().available())
    GTEST_SKIP() << "no NVRTC: " << Nvrtc::instance().unavailableReason();
  // The PTX of each source must define the kernels the launchers look up
  // by name.
  std::string layout =
      Nvrtc::instance().compile(layoutSource(), CompileTarget{80, true}).image;
  std::string indexing = Nvrtc::instance()
                             .compile(indexingSource(), CompileTarget{80, true})
                             .image;
  auto defines = [](const std::string &ptx, const std::string &name) {
    return ptx.find(".entry " + name + "(") != std::string::npos;
  };
  for (const char *w : {"1", "2", "4", "8", "16"}) {
    std::string width = w;
    EXPECT_TRUE(defines(layout, "pgc_strided_copy_w" + width)) << width;
    EXPECT_TRUE(defines(layout, "pgc_strided_copy_w" + width + "_64")) << width;
    EXPECT_TRUE(defines(layout, "pgc_concat_part_w" + width)) << width;
    EXPECT_TRUE(defines(indexing, "pgc_gather_w" + width + "_i32")) << width;
    EXPECT_TRUE(defines(indexing, "pgc_gather_w" + width + "_i64")) << width;
    EXPECT_TRUE(defines(indexing, "pgc_scatter_rows_w" + width)) << width;
  }
  for (DType dtype : kAllDTypes)
    EXPECT_TRUE(defines(layout, "pgc_iota_" + std::string(dtypeName(dtype))))
        << dtypeName(dtype);
  for (DType dy : kFloats)
    for (DType table : kFloats)
      EXPECT_TRUE(defines(indexing, "pgc_scatter_add_" +
                                        std::string(dtypeName(dy)) + "_" +
                                        std::string(dtypeName(table))));
  for (const char *name :
       {"pgc_check_ids_i32", "pgc_check_ids_i64", "pgc_scatter_add_rows_i32",
        "pgc_scatter_add_rows_i64", "pgc_scatter_add_starts",
        "pgc_scatter_add_order", "pgc_scatter_last_i32",
        "pgc_scatter_last_i64"})
    EXPECT_TRUE(defines(indexing, name)) << name;
}

} // namespace
} // namespace pgc::cuda
