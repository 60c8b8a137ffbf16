// Shared kernel plumbing: reading tensors as f32/f64, rounding results once,
// shape checks.
#pragma once

#include "runtime/support/Error.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace pgc::cpu {

/// Rounds a double to bf16 / f16 with one round-to-nearest-even step (going
/// through f32 with plain rounding would round twice and break some ties).
uint16_t doubleToBf16(double value);
uint16_t doubleToF16(double value);
/// The same for 64-bit integers, which f64 cannot always hold exactly.
uint16_t int64ToBf16(int64_t value);
uint16_t int64ToF16(int64_t value);

/// Reads element i of a float tensor exactly as a double.
double readFloatAsDouble(const Tensor &t, int64_t i);
/// Writes `value` into element i of a float tensor, rounded once (RNE).
void writeFloatFromDouble(Tensor &t, int64_t i, double value);
void writeFloatFromFloat(Tensor &t, int64_t i, float value);

/// True when any of the dtypes is f64: the kernel then computes in f64.
bool anyF64(std::initializer_list<DType> dtypes);

/// A float tensor seen as a contiguous array of Acc (float or double). It
/// borrows the tensor's memory when the dtype already is Acc, otherwise it
/// holds a converted copy (bf16/f16 -> f32 is exact).
template <typename Acc> class FloatInput {
public:
  FloatInput(const Tensor &t, const char *op, const char *name);
  const Acc *data() const { return data_; }
  Acc operator[](int64_t i) const { return data_[i]; }

private:
  std::vector<Acc> converted_;
  const Acc *data_ = nullptr;
};

/// A float output written as Acc values and rounded once to the tensor's
/// dtype by commit() (a no-op when the dtype is Acc itself).
template <typename Acc> class FloatOutput {
public:
  FloatOutput(Tensor &t, const char *op, const char *name);
  Acc *data() { return data_; }
  Acc &operator[](int64_t i) { return data_[i]; }
  void commit();

private:
  Tensor tensor_;
  std::vector<Acc> staging_;
  Acc *data_ = nullptr;
};

/// Reads an integer index tensor (i32 or i64) as int64 values.
std::vector<int64_t> readIndices(const Tensor &t, const char *op,
                                 const char *name);

/// Fails unless t has exactly `expected` as its shape.
void requireShape(const Tensor &t, const Shape &expected, const char *op,
                  const char *name);
void requireDType(const Tensor &t, DType expected, const char *op,
                  const char *name);
void requireFloat(const Tensor &t, const char *op, const char *name);
void requireRank(const Tensor &t, int64_t rank, const char *op,
                 const char *name);
/// Turns a possibly negative axis into [0, rank), or fails naming the op.
int64_t normalizeAxis(int64_t axis, int64_t rank, const char *op);

/// Row-major strides of a shape, in elements.
std::vector<int64_t> rowMajorStrides(const Shape &shape);

} // namespace pgc::cpu
