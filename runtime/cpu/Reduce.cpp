// Reductions over a set of axes (sum, max, mean) and the inclusive cumulative
// sum.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace pgc::cpu {
namespace {

enum class ReduceKind { Sum, Max, Mean };

// Where each output's inputs lie: outputs enumerate the kept dims, and every
// output visits the same list of offsets (the reduced dims, row-major).
struct ReducePlan {
  std::vector<int64_t> outputBase;
  std::vector<int64_t> reducedOffsets;
};

ReducePlan planReduction(const Tensor &x, const std::vector<int64_t> &axes,
                         bool keepDims, const Tensor &out, const char *op) {
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t axis : axes) {
    int64_t a = normalizeAxis(axis, x.rank(), op);
    if (reduced[a])
      fail("{}: axis {} is listed twice", op, axis);
    reduced[a] = true;
  }
  Shape expected;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!reduced[d])
      expected.push_back(x.dim(d));
    else if (keepDims)
      expected.push_back(1);
  }
  requireShape(out, expected, op, "result");

  std::vector<int64_t> strides = rowMajorStrides(x.shape());
  // Expands every combination of indices over the chosen dims into offsets.
  auto offsetsOver = [&](bool wantReduced) {
    std::vector<int64_t> offsets{0};
    for (int64_t d = 0; d < x.rank(); ++d) {
      if (reduced[d] != wantReduced)
        continue;
      std::vector<int64_t> next;
      next.reserve(offsets.size() * x.dim(d));
      for (int64_t base : offsets)
        for (int64_t i = 0; i < x.dim(d); ++i)
          next.push_back(base + i * strides[d]);
      offsets = std::move(next);
    }
    return offsets;
  };
  return {offsetsOver(false), offsetsOver(true)};
}

template <typename Acc>
void reduceFloat(ReduceKind kind, const Tensor &x, const ReducePlan &plan,
                 Tensor &out, const char *op) {
  FloatInput<Acc> fx(x, op, "operand");
  FloatOutput<Acc> fo(out, op, "result");
  int64_t count = static_cast<int64_t>(plan.reducedOffsets.size());
  parallelFor(out.numel(), grainFor(count), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const Acc *base = fx.data() + plan.outputBase[o];
      Acc result = kind == ReduceKind::Max
                       ? -std::numeric_limits<Acc>::infinity()
                       : Acc(0);
      for (int64_t offset : plan.reducedOffsets) {
        Acc v = base[offset];
        if (kind != ReduceKind::Max)
          result += v;
        else if (std::isnan(v) || v > result)
          result = std::isnan(result) ? result : v;
      }
      if (kind == ReduceKind::Mean)
        result /= static_cast<Acc>(count);
      fo[o] = result;
    }
  });
  fo.commit();
}

template <typename T>
void reduceInt(ReduceKind kind, const Tensor &x, const ReducePlan &plan,
               Tensor &out, const char *op) {
  if (kind == ReduceKind::Mean)
    fail("{}: operand must be a float tensor, got {}", op,
         dtypeName(x.dtype()));
  if (kind == ReduceKind::Max && plan.reducedOffsets.empty())
    fail("{}: cannot take the max of an empty {} axis", op,
         dtypeName(x.dtype()));
  using U = std::make_unsigned_t<T>;
  const T *px = x.data<T>();
  T *po = out.data<T>();
  int64_t count = static_cast<int64_t>(plan.reducedOffsets.size());
  parallelFor(out.numel(), grainFor(count), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const T *base = px + plan.outputBase[o];
      if (kind == ReduceKind::Sum) {
        U sum = 0; // Unsigned: overflow wraps instead of being undefined.
        for (int64_t offset : plan.reducedOffsets)
          sum = static_cast<U>(sum + static_cast<U>(base[offset]));
        po[o] = static_cast<T>(sum);
      } else {
        T best = base[plan.reducedOffsets[0]];
        for (int64_t offset : plan.reducedOffsets)
          best = std::max(best, base[offset]);
        po[o] = best;
      }
    }
  });
}

void reduce(ReduceKind kind, const Tensor &x, const std::vector<int64_t> &axes,
            bool keepDims, Tensor &out, const char *op) {
  ReducePlan plan = planReduction(x, axes, keepDims, out, op);
  if (isFloat(x.dtype())) {
    requireFloat(out, op, "result");
    if (anyF64({x.dtype(), out.dtype()}))
      return reduceFloat<double>(kind, x, plan, out, op);
    return reduceFloat<float>(kind, x, plan, out, op);
  }
  requireDType(out, x.dtype(), op, "result");
  switch (x.dtype()) {
  case DType::I32:
    return reduceInt<int32_t>(kind, x, plan, out, op);
  case DType::I64:
    return reduceInt<int64_t>(kind, x, plan, out, op);
  default:
    fail("{}: operand must be float, i32 or i64, got {}", op,
         dtypeName(x.dtype()));
  }
}

template <typename T>
void cumsumInt(const Tensor &x, int64_t outer, int64_t extent, int64_t inner,
               Tensor &out) {
  using U = std::make_unsigned_t<T>;
  const T *px = x.data<T>();
  T *po = out.data<T>();
  parallelFor(outer * inner, grainFor(extent), [&](int64_t begin, int64_t end) {
    for (int64_t line = begin; line < end; ++line) {
      int64_t start = (line / inner) * extent * inner + line % inner;
      U running = 0;
      for (int64_t i = 0; i < extent; ++i) {
        running =
            static_cast<U>(running + static_cast<U>(px[start + i * inner]));
        po[start + i * inner] = static_cast<T>(running);
      }
    }
  });
}

template <typename Acc>
void cumsumFloat(const Tensor &x, int64_t outer, int64_t extent, int64_t inner,
                 Tensor &out) {
  FloatInput<Acc> fx(x, "cumsum", "operand");
  FloatOutput<Acc> fo(out, "cumsum", "result");
  parallelFor(outer * inner, grainFor(extent), [&](int64_t begin, int64_t end) {
    for (int64_t line = begin; line < end; ++line) {
      int64_t start = (line / inner) * extent * inner + line % inner;
      Acc running = 0;
      for (int64_t i = 0; i < extent; ++i) {
        running += fx[start + i * inner];
        fo[start + i * inner] = running;
      }
    }
  });
  fo.commit();
}

} // namespace

void reduceSum(const Tensor &x, const std::vector<int64_t> &axes, bool keepDims,
               Tensor &out) {
  reduce(ReduceKind::Sum, x, axes, keepDims, out, "reduce_sum");
}

void reduceMax(const Tensor &x, const std::vector<int64_t> &axes, bool keepDims,
               Tensor &out) {
  reduce(ReduceKind::Max, x, axes, keepDims, out, "reduce_max");
}

void reduceMean(const Tensor &x, const std::vector<int64_t> &axes,
                bool keepDims, Tensor &out) {
  reduce(ReduceKind::Mean, x, axes, keepDims, out, "reduce_mean");
}

void cumsum(const Tensor &x, int64_t axis, Tensor &out) {
  int64_t a = normalizeAxis(axis, x.rank(), "cumsum");
  requireShape(out, x.shape(), "cumsum", "result");
  int64_t extent = x.dim(a);
  int64_t inner = rowMajorStrides(x.shape())[a];
  int64_t outer = extent * inner == 0 ? 0 : x.numel() / (extent * inner);
  if (isFloat(x.dtype())) {
    requireFloat(out, "cumsum", "result");
    if (anyF64({x.dtype(), out.dtype()}))
      return cumsumFloat<double>(x, outer, extent, inner, out);
    return cumsumFloat<float>(x, outer, extent, inner, out);
  }
  requireDType(out, x.dtype(), "cumsum", "result");
  switch (x.dtype()) {
  case DType::I32:
    return cumsumInt<int32_t>(x, outer, extent, inner, out);
  case DType::I64:
    return cumsumInt<int64_t>(x, outer, extent, inner, out);
  default:
    fail("cumsum: operand must be float, i32 or i64, got {}",
         dtypeName(x.dtype()));
  }
}

} // namespace pgc::cpu
