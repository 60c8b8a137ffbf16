// Dtype conversion between every pair of dtypes, and iota (which writes
// integers into any dtype).
#include "runtime/cpu/Kernels.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Parallel.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace pgc::cpu {
namespace {

int64_t readInteger(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::I32:
    return t.data<int32_t>()[i];
  case DType::I64:
    return t.data<int64_t>()[i];
  case DType::U8:
  case DType::Bool:
    return t.data<uint8_t>()[i];
  default:
    fail("internal: readInteger on a {} tensor", dtypeName(t.dtype()));
  }
}

// Integer to integer keeps the low bits (two's complement wrap-around), as a
// C++ conversion does; anything to Bool is "not zero".
void writeFromInteger(Tensor &t, int64_t i, int64_t value) {
  switch (t.dtype()) {
  case DType::I32:
    t.data<int32_t>()[i] = static_cast<int32_t>(value);
    return;
  case DType::I64:
    t.data<int64_t>()[i] = value;
    return;
  case DType::U8:
    t.data<uint8_t>()[i] = static_cast<uint8_t>(value);
    return;
  case DType::Bool:
    t.data<uint8_t>()[i] = value != 0;
    return;
  case DType::F64:
    t.data<double>()[i] = static_cast<double>(value);
    return;
  case DType::F32:
    t.data<float>()[i] = static_cast<float>(value);
    return;
  case DType::BF16:
    t.data<uint16_t>()[i] = int64ToBf16(value);
    return;
  case DType::F16:
    t.data<uint16_t>()[i] = int64ToF16(value);
    return;
  }
}

// Float to integer truncates toward zero. C++ leaves NaN and out-of-range
// values undefined; here NaN becomes 0 and the rest saturate.
template <typename T> T truncateSaturating(double value) {
  if (std::isnan(value))
    return 0;
  double truncated = std::trunc(value);
  // 2^63 and 2^31 are exact doubles; comparing against them avoids rounding
  // INT64_MAX up to 2^63 and overflowing.
  double upperExclusive = std::ldexp(1.0, std::numeric_limits<T>::digits);
  if (truncated >= upperExclusive)
    return std::numeric_limits<T>::max();
  if (truncated < static_cast<double>(std::numeric_limits<T>::min()))
    return std::numeric_limits<T>::min();
  return static_cast<T>(truncated);
}

void writeFromFloat(Tensor &t, int64_t i, double value) {
  switch (t.dtype()) {
  case DType::I32:
    t.data<int32_t>()[i] = truncateSaturating<int32_t>(value);
    return;
  case DType::I64:
    t.data<int64_t>()[i] = truncateSaturating<int64_t>(value);
    return;
  case DType::U8:
    t.data<uint8_t>()[i] = truncateSaturating<uint8_t>(value);
    return;
  case DType::Bool:
    t.data<uint8_t>()[i] = value != 0; // NaN != 0: true.
    return;
  default:
    writeFloatFromDouble(t, i, value);
  }
}

// bf16, f16 and f32 values are exact in f32, and rounding them once to a
// narrower type from there is what the general path's f64 round-to-odd step
// gives for such inputs; so these pairs convert in f32 with one typed loop
// (the general path's per-element dtype switches and long double rounding
// made casts a third of a QLoRA step).
float loadAsFloat(const uint16_t *data, int64_t i, DType dtype) {
  return dtype == DType::BF16 ? bf16ToF32(data[i]) : f16ToF32(data[i]);
}

template <typename Store>
void castFromNarrowFloat(const Tensor &x, int64_t count, Store store) {
  if (x.dtype() == DType::F32) {
    const float *src = x.data<float>();
    parallelFor(count, 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        store(i, src[i]);
    });
    return;
  }
  const uint16_t *src = x.data<uint16_t>();
  DType dtype = x.dtype();
  parallelFor(count, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      store(i, loadAsFloat(src, i, dtype));
  });
}

bool castBetweenFloats(const Tensor &x, Tensor &out) {
  auto narrow = [](DType d) {
    return d == DType::BF16 || d == DType::F16 || d == DType::F32;
  };
  if (!narrow(x.dtype()) || !isFloat(out.dtype()))
    return false;
  int64_t count = x.numel();
  switch (out.dtype()) {
  case DType::BF16: {
    uint16_t *dst = out.data<uint16_t>();
    castFromNarrowFloat(x, count,
                        [dst](int64_t i, float v) { dst[i] = f32ToBf16(v); });
    return true;
  }
  case DType::F16: {
    uint16_t *dst = out.data<uint16_t>();
    castFromNarrowFloat(x, count,
                        [dst](int64_t i, float v) { dst[i] = f32ToF16(v); });
    return true;
  }
  case DType::F32: {
    // The general path's trip through f64 quiets signalling NaNs; so does
    // this one, so that a cast never depends on the path taken.
    float *dst = out.data<float>();
    castFromNarrowFloat(x, count, [dst](int64_t i, float v) {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      if ((bits & 0x7fffffffu) > 0x7f800000u)
        bits |= 0x00400000u;
      std::memcpy(dst + i, &bits, 4);
    });
    return true;
  }
  case DType::F64: {
    double *dst = out.data<double>();
    castFromNarrowFloat(x, count, [dst](int64_t i, float v) { dst[i] = v; });
    return true;
  }
  default:
    return false;
  }
}

} // namespace

void cast(const Tensor &x, Tensor &out) {
  requireShape(out, x.shape(), "cast", "result");
  if (castBetweenFloats(x, out))
    return;
  castElementwise(x, out);
}

void castElementwise(const Tensor &x, Tensor &out) {
  requireShape(out, x.shape(), "cast", "result");
  bool fromFloat = isFloat(x.dtype());
  parallelFor(x.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (fromFloat)
        writeFromFloat(out, i, readFloatAsDouble(x, i));
      else
        writeFromInteger(out, i, readInteger(x, i));
    }
  });
}

void iota(int64_t dim, Tensor &out) {
  int64_t axis = normalizeAxis(dim, out.rank(), "iota");
  int64_t extent = out.dim(axis);
  int64_t inner = rowMajorStrides(out.shape())[axis];
  parallelFor(out.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      writeFromInteger(out, i, (i / inner) % extent);
  });
}

} // namespace pgc::cpu
