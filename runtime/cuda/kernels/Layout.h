// GPU kernels for the plan's layout and indexing ops (reshape, transpose,
// broadcast, slice, concat, iota, gather, scatter_add, scatter) and their
// launchers: the same bytes as the CPU reference kernels (runtime/cpu
// Layout.cpp, Cast.cpp's iota, Indexing.cpp), with the same checks.
#pragma once

#include "runtime/cuda/DeviceTensor.h"
#include "runtime/cuda/Module.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

namespace pgc::cuda {

/// The largest rank transpose, broadcast and slice take: their kernel gets
/// the shape by value in a struct of this many dims.
constexpr int kMaxLayoutRank = 8;

/// Source of the layout kernels: pgc_strided_copy_w{1,2,4,8,16}[_64]
/// (transpose, broadcast and slice), pgc_concat_part_w{...} and
/// pgc_iota_<dtype>.
const KernelSource &layoutSource();
/// Source of the indexing kernels: gather, scatter_add, scatter and the id
/// checks.
const KernelSource &indexingSource();

/// A strided copy ready to launch: out[i] = src[offset + sum_d index_d(i) *
/// strides[d]] over `extents` (row-major, out contiguous), in units of
/// `unitBytes` bytes. The plan functions check the operands exactly as the
/// CPU kernel does, drop size-1 dims and merge dims that are contiguous in
/// the source too (as runtime/cpu/Layout.cpp), then widen the unit to up to
/// 16 bytes when the innermost run is contiguous and aligned.
struct StridedCopyPlan {
  api::CUdeviceptr source = 0, destination = 0;
  int64_t unitBytes = 1;
  int64_t sourceOffset = 0; // in units
  int64_t sourceUnits = 0;  // the source's size in units (for index width)
  std::vector<int64_t> extents, strides;
  int64_t count() const;
};

/// out.dim(d) = x.dim(perm[d]); any rank up to kMaxLayoutRank, any dtype.
StridedCopyPlan planTranspose(const DeviceTensor &x,
                              const std::vector<int64_t> &perm,
                              const DeviceTensor &out);
/// Numpy broadcasting of x to out's shape (out rank up to kMaxLayoutRank).
StridedCopyPlan planBroadcast(const DeviceTensor &x, const DeviceTensor &out);
/// Per dim: elements start, start + stride, ... below limit.
StridedCopyPlan planSlice(const DeviceTensor &x,
                          const std::vector<int64_t> &start,
                          const std::vector<int64_t> &limit,
                          const std::vector<int64_t> &stride,
                          const DeviceTensor &out);
/// Enqueues a plan on `stream` (nothing for an empty one); `op` names it in
/// errors.
void launchStridedCopy(const Module &layout, const Stream &stream,
                       const StridedCopyPlan &plan, const char *op);

/// reshape needs no kernel: the bytes are the same, so it is a device copy,
/// and nothing at all when out is x's own buffer (the executor may alias
/// them, as on the CPU).
void validateReshape(const DeviceTensor &x, const DeviceTensor &out);
void launchReshape(const Stream &stream, const DeviceTensor &x,
                   const DeviceTensor &out);

void launchTranspose(const Module &layout, const Stream &stream,
                     const DeviceTensor &x, const std::vector<int64_t> &perm,
                     const DeviceTensor &out);
void launchBroadcast(const Module &layout, const Stream &stream,
                     const DeviceTensor &x, const DeviceTensor &out);
void launchSlice(const Module &layout, const Stream &stream,
                 const DeviceTensor &x, const std::vector<int64_t> &start,
                 const std::vector<int64_t> &limit,
                 const std::vector<int64_t> &stride, const DeviceTensor &out);

/// Inputs agree on every dim but `axis` (negative counts from the end) and
/// on dtype; one launch per input with a non-empty block.
void validateConcat(const std::vector<DeviceTensor> &inputs, int64_t axis,
                    const DeviceTensor &out);
void launchConcat(const Module &layout, const Stream &stream,
                  const std::vector<DeviceTensor> &inputs, int64_t axis,
                  const DeviceTensor &out);

/// out[..., i, ...] = i along `dim`, converted as the CPU's iota does: ints
/// keep the low bits, Bool is i != 0, floats round once to nearest even.
void validateIota(int64_t dim, const DeviceTensor &out);
void launchIota(const Module &layout, const Stream &stream, int64_t dim,
                const DeviceTensor &out);

/// The ids of an indexing launch are checked on the device: the kernels
/// record the lowest flat position of an out-of-range id in an 8-byte device
/// word (all ones when there is none) and never read or write outside a
/// buffer for it. The launch returns what to check; verify() synchronizes
/// the stream and fails with the CPU kernel's message ("gather: id 9 at
/// position 4 is outside [0, 8)").
/// The reading half of that protocol, shared with cross-entropy's label
/// check: the flagged position in `word` and the i32/i64 value of `ids`
/// there, or nothing when no id was flagged (synchronizes the stream).
std::optional<std::pair<uint64_t, int64_t>>
firstFlaggedId(const Stream &stream, api::CUdeviceptr word,
               const DeviceTensor &ids);

struct IdCheck {
  api::CUdeviceptr word = 0;
  DeviceTensor ids;
  int64_t rows = 0;
  const char *op = "";
  const char *what = "";
  void verify(const Stream &stream) const;
};

/// table [V, ...] (any dtype), ids i32/i64 [...] -> out [ids..., table dims
/// after the first]. A row with a bad id is written as zeros.
void validateGather(const DeviceTensor &table, const DeviceTensor &ids,
                    const DeviceTensor &out);
[[nodiscard]] IdCheck launchGather(const Module &indexing, const Stream &stream,
                                   const DeviceTensor &table,
                                   const DeviceTensor &ids,
                                   const DeviceTensor &out,
                                   api::CUdeviceptr idWord);

/// dtable [V, ...] = 0, then dtable[ids[i]] += dy[i] in f32 (f64 when dy or
/// dtable is f64), each row's updates added in increasing i, rounded once.
/// Deterministic without float atomics (see Indexing.cpp): the workspace
/// (scatterAddWorkspaceBytes, 4-byte aligned) holds a stable grouping of
/// the positions by id.
void validateScatterAdd(const DeviceTensor &ids, const DeviceTensor &dy,
                        const DeviceTensor &dtable);
size_t scatterAddWorkspaceBytes(const DeviceTensor &ids,
                                const DeviceTensor &dtable);
[[nodiscard]] IdCheck
launchScatterAdd(const Module &indexing, const Stream &stream,
                 const DeviceTensor &ids, const DeviceTensor &dy,
                 const DeviceTensor &dtable, api::CUdeviceptr workspace,
                 api::CUdeviceptr idWord);

/// dest [B, L, D], indices i32/i64 [B, N], updates [B, N, D]: out = dest
/// with row indices[b, n] of batch b replaced by updates[b, n], the last n
/// winning for a repeated index. out may be dest itself. The workspace
/// (scatterWorkspaceBytes, 4-byte aligned) holds each row's last writer.
void validateScatter(const DeviceTensor &dest, const DeviceTensor &indices,
                     const DeviceTensor &updates, const DeviceTensor &out);
size_t scatterWorkspaceBytes(const DeviceTensor &dest);
[[nodiscard]] IdCheck
launchScatter(const Module &indexing, const Stream &stream,
              const DeviceTensor &dest, const DeviceTensor &indices,
              const DeviceTensor &updates, const DeviceTensor &out,
              api::CUdeviceptr workspace, api::CUdeviceptr idWord);

namespace detail {
/// Shared by Layout.cpp and Indexing.cpp: a grid-stride launch shape for
/// `count` items, and the CPU's shape/dtype checks with its messages.
LaunchShape layoutGrid(const Stream &stream, int64_t count);
void requireShape(const DeviceTensor &t, const Shape &expected, const char *op,
                  const char *name);
void requireDType(const DeviceTensor &t, DType expected, const char *op,
                  const char *name);
/// The widest unit of 16, 8, 4, 2 or 1 bytes dividing every value.
int64_t widestUnit(std::initializer_list<uint64_t> values);
} // namespace detail

} // namespace pgc::cuda
