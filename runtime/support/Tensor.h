// The runtime's tensor: a dtype, a row-major shape and bytes it owns or borrows.
#pragma once

#include "runtime/support/DType.h"
#include "runtime/support/Shape.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pgc {

/// A dense row-major tensor. Copies share storage (like a handle); clone()
/// makes a deep copy. Storage is 64-byte aligned and zero-initialised, or
/// borrowed from memory someone else keeps alive (a memory-mapped file).
class Tensor {
public:
  Tensor() = default;
  /// Allocates zeroed storage.
  Tensor(DType dtype, Shape shape);
  /// Borrows `data`; `keepAlive` (may be null) is held as long as the tensor.
  static Tensor borrow(DType dtype, Shape shape, void *data,
                       std::shared_ptr<void> keepAlive);

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t byteSize() const { return static_cast<size_t>(numel_) * dtypeSize(dtype_); }
  bool defined() const { return data_ != nullptr || numel_ == 0; }

  void *raw() { return data_; }
  const void *raw() const { return data_; }
  template <typename T> T *data() { return static_cast<T *>(data_); }
  template <typename T> const T *data() const {
    return static_cast<const T *>(data_);
  }

  Tensor clone() const;
  /// Same storage, another shape with the same element count.
  Tensor reshaped(Shape shape) const;
  /// Converts to another dtype (floats round to nearest even; float to int
  /// truncates toward zero as a C cast does).
  Tensor to(DType dtype) const;
  /// Element i as double, whatever the dtype (for tests and small reductions).
  double at(int64_t i) const;
  void set(int64_t i, double value);

private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> storage_;
  void *data_ = nullptr;
};

} // namespace pgc
