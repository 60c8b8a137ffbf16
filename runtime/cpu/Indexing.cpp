// Row indexing kernels: gather (embedding lookup), its adjoint scatter_add, and
// row scatter.
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cstring>

namespace pgc::cpu {
namespace {

// Fails on the first id (in row-major order) outside [0, rows).
void checkIds(const std::vector<int64_t> &ids, int64_t rows, const char *op,
              const char *what) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= rows)
      fail("{}: {} {} at position {} is outside [0, {})", op, what, ids[i], i,
           rows);
}

// The shape of a table lookup: ids' shape followed by a table row's shape.
Shape lookupShape(const Tensor &ids, const Shape &tableShape) {
  Shape shape = ids.shape();
  shape.insert(shape.end(), tableShape.begin() + 1, tableShape.end());
  return shape;
}

template <typename Acc>
void scatterAddTyped(const std::vector<int64_t> &ids, const Tensor &dy,
                     int64_t rowSize, Tensor &dtable) {
  FloatInput<Acc> fdy(dy, "scatter_add", "dy");
  FloatOutput<Acc> fout(dtable, "scatter_add", "result");
  std::fill(fout.data(), fout.data() + dtable.numel(), Acc(0));
  // Threads split the columns; each sums its columns over the ids in order,
  // so repeated ids accumulate in the same order whatever the thread count.
  int64_t count = static_cast<int64_t>(ids.size());
  parallelFor(rowSize, grainFor(count), [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < count; ++i) {
      Acc *row = fout.data() + ids[i] * rowSize;
      const Acc *update = fdy.data() + i * rowSize;
      for (int64_t c = begin; c < end; ++c)
        row[c] += update[c];
    }
  });
  fout.commit();
}

} // namespace

void gather(const Tensor &table, const Tensor &ids, Tensor &out) {
  if (table.rank() < 1)
    fail("gather: table must have rank >= 1, got a scalar");
  std::vector<int64_t> idValues = readIndices(ids, "gather", "ids");
  requireDType(out, table.dtype(), "gather", "result");
  requireShape(out, lookupShape(ids, table.shape()), "gather", "result");
  checkIds(idValues, table.dim(0), "gather", "id");
  size_t rowBytes =
      table.dim(0) ? table.byteSize() / static_cast<size_t>(table.dim(0)) : 0;
  const char *src = static_cast<const char *>(table.raw());
  char *dst = static_cast<char *>(out.raw());
  parallelFor(static_cast<int64_t>(idValues.size()),
              grainFor(static_cast<int64_t>(rowBytes)),
              [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i)
                  std::memcpy(dst + i * rowBytes, src + idValues[i] * rowBytes,
                              rowBytes);
              });
}

void scatterAdd(const Tensor &ids, const Tensor &dy, Tensor &dtable) {
  if (dtable.rank() < 1)
    fail("scatter_add: result must have rank >= 1, got a scalar");
  std::vector<int64_t> idValues = readIndices(ids, "scatter_add", "ids");
  requireShape(dy, lookupShape(ids, dtable.shape()), "scatter_add", "dy");
  checkIds(idValues, dtable.dim(0), "scatter_add", "id");
  int64_t rowSize = dtable.dim(0) ? dtable.numel() / dtable.dim(0) : 0;
  if (anyF64({dy.dtype(), dtable.dtype()}))
    return scatterAddTyped<double>(idValues, dy, rowSize, dtable);
  scatterAddTyped<float>(idValues, dy, rowSize, dtable);
}

void scatter(const Tensor &dest, const Tensor &indices, const Tensor &updates,
             Tensor &out) {
  requireRank(dest, 3, "scatter", "destination");
  requireRank(indices, 2, "scatter", "indices");
  int64_t batch = dest.dim(0), rows = dest.dim(1), width = dest.dim(2);
  int64_t count = indices.dim(1);
  requireShape(indices, {batch, count}, "scatter", "indices");
  requireShape(updates, {batch, count, width}, "scatter", "updates");
  requireDType(updates, dest.dtype(), "scatter", "updates");
  requireDType(out, dest.dtype(), "scatter", "result");
  requireShape(out, dest.shape(), "scatter", "result");
  std::vector<int64_t> rowIds = readIndices(indices, "scatter", "indices");
  checkIds(rowIds, rows, "scatter", "row index");
  if (out.raw() != dest.raw() && dest.byteSize())
    std::memcpy(out.raw(), dest.raw(), dest.byteSize());
  // Rows are written in (b, n) order, so a repeated index keeps the last
  // update.
  size_t rowBytes = static_cast<size_t>(width) * dtypeSize(dest.dtype());
  char *dst = static_cast<char *>(out.raw());
  const char *src = static_cast<const char *>(updates.raw());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < count; ++n)
      std::memcpy(dst + (b * rows + rowIds[b * count + n]) * rowBytes,
                  src + (b * count + n) * rowBytes, rowBytes);
}

} // namespace pgc::cpu
