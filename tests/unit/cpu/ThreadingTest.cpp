// Kernel results must be bit-identical whatever the thread count; parallelFor's
// own contract.
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/support/Error.h"
#include "tests/unit/cpu/TestUtil.h"

#include <atomic>
#include <functional>

namespace pgc::cpu {
namespace {
using namespace test;

// Runs `kernel` under several thread counts and checks every output tensor
// has the same bytes as with one thread.
void expectSameBitsForAllThreadCounts(
    const std::function<std::vector<Tensor>()> &kernel,
    const std::string &what) {
  setThreadCount(1);
  std::vector<Tensor> reference = kernel();
  for (int threads : {2, 3, 8}) {
    setThreadCount(threads);
    std::vector<Tensor> again = kernel();
    for (size_t i = 0; i < reference.size(); ++i)
      EXPECT_TRUE(sameBytes(reference[i], again[i]))
          << what << ": output " << i << " differs with " << threads
          << " threads";
  }
  setThreadCount(0);
}

TEST(CpuThreading, KernelsAreDeterministicAcrossThreadCounts) {
  std::mt19937 rng(111);
  Tensor a = randomTensor(DType::F32, {4, 64, 96}, rng);
  Tensor b = randomTensor(DType::F32, {96, 80}, rng);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor out(DType::F32, {4, 64, 80});
        matmul(a, b, false, false, out, MatmulPath::Naive);
        return std::vector<Tensor>{out};
      },
      "matmul");
  // The BLAS path is cut into row blocks by parallelFor (OpenBLAS itself
  // runs single-threaded): a shared b folded over the batch, and batched
  // transposed operands.
  if (blasAvailable()) {
    Tensor tall = randomTensor(DType::F32, {4, 300, 96}, rng);
    Tensor aT = randomTensor(DType::F32, {3, 96, 200}, rng);
    Tensor bT = randomTensor(DType::F32, {3, 80, 96}, rng);
    expectSameBitsForAllThreadCounts(
        [&] {
          Tensor shared(DType::F32, {4, 300, 80}),
              batched(DType::F32, {3, 200, 80});
          matmul(tall, b, false, false, shared, MatmulPath::Blas);
          matmul(aT, bT, true, true, batched, MatmulPath::Blas);
          return std::vector<Tensor>{shared, batched};
        },
        "matmul (BLAS)");
  }
  Tensor wide = randomTensor(DType::F32, {3, 1, 40, 1, 70}, rng);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor gelu(DType::F32, a.shape()), grad(DType::F32, a.shape()),
            moved(DType::F32, {96, 4, 64}),
            spread(DType::F32, {3, 5, 40, 2, 70});
        unary(UnaryOp::GeluTanh, a, gelu);
        geluTanhGrad(a, gelu, grad);
        transpose(a, {2, 0, 1}, moved);
        broadcast(wide, spread);
        return std::vector<Tensor>{gelu, grad, moved, spread};
      },
      "gelu, transpose, broadcast");
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor sum(DType::F32, {64}), maxima(DType::F32, {4, 1, 96});
        reduceSum(a, {0, 2}, false, sum);
        reduceMax(a, {1}, true, maxima);
        return std::vector<Tensor>{sum, maxima};
      },
      "reduce");

  Tensor x = randomTensor(DType::BF16, {512, 256}, rng);
  Tensor w = randomTensor(DType::F32, {256}, rng);
  Tensor dy = randomTensor(DType::F32, {512, 256}, rng);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor dx(DType::F32, x.shape()), dw(DType::F32, {256}),
            db(DType::F32, {256}), y(DType::BF16, x.shape());
        layerNormGrad(x, w, dy, 1e-6, dx, dw, db);
        softmax(x, -1, y);
        return std::vector<Tensor>{dx, dw, db, y};
      },
      "layer_norm_grad, softmax");

  Tensor ids = randomInts(DType::I64, {2000}, rng, 0, 9);
  Tensor rows = randomTensor(DType::F32, {2000, 64}, rng);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor table(DType::F32, {10, 64});
        scatterAdd(ids, rows, table);
        return std::vector<Tensor>{table};
      },
      "scatter_add");

  Tensor q = randomTensor(DType::F32, {2, 4, 32, 16}, rng);
  Tensor k = randomTensor(DType::F32, {2, 2, 32, 16}, rng);
  Tensor v = randomTensor(DType::F32, {2, 2, 32, 16}, rng);
  Tensor dout = randomTensor(DType::F32, {2, 4, 32, 16}, rng);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor out(DType::F32, q.shape()), dq(DType::F32, q.shape()),
            dk(DType::F32, k.shape()), dv(DType::F32, v.shape());
        attention(q, k, v, nullptr, 0.25, out);
        attentionGrad(q, k, v, nullptr, 0.25, dout, dq, dk, dv);
        return std::vector<Tensor>{out, dq, dk, dv};
      },
      "attention");

  Tensor logits = randomTensor(DType::F32, {300, 500}, rng);
  Tensor labels = randomInts(DType::I32, {300}, rng, 0, 499);
  expectSameBitsForAllThreadCounts(
      [&] {
        Tensor loss(DType::F32, {});
        crossEntropy(logits, labels, -100, loss);
        return std::vector<Tensor>{loss};
      },
      "cross_entropy");
}

TEST(CpuThreading, ParallelForCoversEveryIndexOnceAndRethrows) {
  setThreadCount(4);
  std::vector<std::atomic<int>> hits(1000);
  parallelFor(1000, 7, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin % 7, 0); // chunk starts depend only on the grain
    for (int64_t i = begin; i < end; ++i)
      ++hits[i];
  });
  for (auto &h : hits)
    EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(parallelFor(100, 1,
                           [](int64_t begin, int64_t) {
                             if (begin == 50)
                               fail("chunk {} failed", begin);
                           }),
               Error);
  setThreadCount(0);
}

} // namespace
} // namespace pgc::cpu
