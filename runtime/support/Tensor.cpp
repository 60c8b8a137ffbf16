// Storage, shape arithmetic and element conversions of the runtime's tensor.
#include "runtime/support/Tensor.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace pgc {

int64_t numElements(const Shape &shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      fail("negative dimension in shape {}", formatShape(shape));
    if (d != 0 && count > INT64_MAX / d)
      fail("shape {} has too many elements", formatShape(shape));
    count *= d;
  }
  return count;
}

std::string formatShape(const Shape &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(numElements(shape_)) {
  size_t bytes = byteSize();
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0)
    rounded = 64;
  void *memory = std::aligned_alloc(64, rounded);
  if (!memory)
    fail("out of memory allocating {} bytes for a {} tensor", bytes,
         formatShape(shape_));
  std::memset(memory, 0, rounded);
  storage_ = std::shared_ptr<void>(memory, std::free);
  data_ = memory;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void *data,
                      std::shared_ptr<void> keepAlive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = numElements(t.shape_);
  t.storage_ = std::move(keepAlive);
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  // Not through the zeroing constructor: every byte is overwritten, and
  // the executor clones its outputs on every call.
  Tensor copy;
  copy.dtype_ = dtype_;
  copy.shape_ = shape_;
  copy.numel_ = numel_;
  size_t rounded = std::max<size_t>((byteSize() + 63) / 64 * 64, 64);
  void *memory = std::aligned_alloc(64, rounded);
  if (!memory)
    fail("out of memory allocating {} bytes for a {} tensor", byteSize(),
         formatShape(shape_));
  copy.storage_ = std::shared_ptr<void>(memory, std::free);
  copy.data_ = memory;
  if (byteSize())
    std::memcpy(copy.data_, data_, byteSize());
  return copy;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (numElements(shape) != numel_)
    fail("cannot reshape {} to {}", formatShape(shape_), formatShape(shape));
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

double Tensor::at(int64_t i) const {
  switch (dtype_) {
  case DType::BF16:
    return bf16ToF32(data<uint16_t>()[i]);
  case DType::F16:
    return f16ToF32(data<uint16_t>()[i]);
  case DType::F32:
    return data<float>()[i];
  case DType::F64:
    return data<double>()[i];
  case DType::I32:
    return data<int32_t>()[i];
  case DType::I64:
    return static_cast<double>(data<int64_t>()[i]);
  case DType::U8:
  case DType::Bool:
    return data<uint8_t>()[i];
  }
  return 0;
}

void Tensor::set(int64_t i, double value) {
  switch (dtype_) {
  case DType::BF16:
    data<uint16_t>()[i] = f64ToBf16(value);
    return;
  case DType::F16:
    data<uint16_t>()[i] = f64ToF16(value);
    return;
  case DType::F32:
    data<float>()[i] = static_cast<float>(value);
    return;
  case DType::F64:
    data<double>()[i] = value;
    return;
  case DType::I32:
    data<int32_t>()[i] = static_cast<int32_t>(value);
    return;
  case DType::I64:
    data<int64_t>()[i] = static_cast<int64_t>(value);
    return;
  case DType::U8:
    data<uint8_t>()[i] = static_cast<uint8_t>(value);
    return;
  case DType::Bool:
    data<uint8_t>()[i] = value != 0;
    return;
  }
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_)
    return clone();
  Tensor result(dtype, shape_);
  // Tensor::set rounds f64 values to 16-bit floats once (round-to-odd through
  // f32), so every conversion here rounds exactly once.
  for (int64_t i = 0; i < numel_; ++i)
    result.set(i, at(i));
  return result;
}

} // namespace pgc
