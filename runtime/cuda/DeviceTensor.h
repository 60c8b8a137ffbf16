// A row-major, contiguous tensor in device memory, as kernel launchers take
// their operands.
#pragma once

#include "runtime/cuda/CudaApi.h"
#include "runtime/support/Tensor.h"

#include <cstddef>
#include <cstdint>

namespace pgc::cuda {

struct DeviceTensor {
  api::CUdeviceptr address = 0;
  DType dtype = DType::F32;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t d) const {
    return shape[static_cast<size_t>(d < 0 ? d + rank() : d)];
  }
  int64_t numel() const { return numElements(shape); }
  size_t bytes() const {
    return static_cast<size_t>(numel()) * dtypeSize(dtype);
  }
};

} // namespace pgc::cuda
