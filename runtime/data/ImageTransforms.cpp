// PIL-compatible bicubic resampling and SigLIP normalisation.
//
// Matching PIL bit for bit matters: the model was trained on PIL's pixels, and
// an independent reimplementation in floating point differs by a few levels
// on sharp edges. So the arithmetic follows PIL's fixed-point scheme exactly.
#include "runtime/data/ImageTransforms.h"

#include "runtime/support/Error.h"

#include <cmath>

namespace pgc {
namespace {

// PIL keeps 8 bits for the result and 2 for overshoot of the filter's
// negative lobes, leaving 22 fractional bits in an int32 accumulator.
constexpr int kPrecisionBits = 32 - 8 - 2;

double cubicKernel(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For each output sample: the first input index, how many inputs it reads,
// and their fixed-point weights (taps entries per output, zero padded).
struct ResampleTaps {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

ResampleTaps computeTaps(int inSize, int outSize) {
  double scale = static_cast<double>(inSize) / outSize;
  double filterScale = scale < 1.0 ? 1.0 : scale;
  // PIL multiplies by the reciprocal; dividing would change the last bit.
  double inverseFilterScale = 1.0 / filterScale;
  double support = 2.0 * filterScale;
  ResampleTaps result;
  result.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  result.first.resize(outSize);
  result.count.resize(outSize);
  result.weights.assign(static_cast<size_t>(outSize) * result.taps, 0);
  std::vector<double> raw(result.taps);
  for (int out = 0; out < outSize; ++out) {
    double center = (out + 0.5) * scale;
    // Truncation after adding 0.5 is PIL's rounding of the window bounds.
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0)
      lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > inSize)
      hi = inSize;
    int count = hi - lo;
    double sum = 0.0;
    for (int i = 0; i < count; ++i) {
      raw[i] = cubicKernel((i + lo - center + 0.5) * inverseFilterScale);
      sum += raw[i];
    }
    int32_t *weights = &result.weights[static_cast<size_t>(out) * result.taps];
    for (int i = 0; i < count; ++i) {
      double w = sum != 0.0 ? raw[i] / sum : raw[i];
      double fixed = w * (1 << kPrecisionBits);
      weights[i] = static_cast<int32_t>(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    result.first[out] = lo;
    result.count[out] = count;
  }
  return result;
}

inline uint8_t clampToByte(int32_t accumulator) {
  int32_t value = accumulator >> kPrecisionBits;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

RgbImage resampleHorizontal(const RgbImage &in, int width) {
  ResampleTaps taps = computeTaps(in.width, width);
  RgbImage out(width, in.height);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t *src = in.row(y);
    uint8_t *dst = out.row(y);
    for (int x = 0; x < width; ++x) {
      const int32_t *w = &taps.weights[static_cast<size_t>(x) * taps.taps];
      const uint8_t *p = src + static_cast<size_t>(taps.first[x]) * 3;
      int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int i = 0; i < taps.count[x]; ++i, p += 3) {
        r += p[0] * w[i];
        g += p[1] * w[i];
        b += p[2] * w[i];
      }
      dst[3 * x + 0] = clampToByte(r);
      dst[3 * x + 1] = clampToByte(g);
      dst[3 * x + 2] = clampToByte(b);
    }
  }
  return out;
}

RgbImage resampleVertical(const RgbImage &in, int height) {
  ResampleTaps taps = computeTaps(in.height, height);
  RgbImage out(in.width, height);
  size_t rowBytes = static_cast<size_t>(in.width) * 3;
  std::vector<int32_t> accumulators(rowBytes);
  for (int y = 0; y < height; ++y) {
    const int32_t *w = &taps.weights[static_cast<size_t>(y) * taps.taps];
    std::fill(accumulators.begin(), accumulators.end(),
              1 << (kPrecisionBits - 1));
    // Row-wise accumulation walks memory contiguously; the sums are the
    // same integers as PIL's column-wise loop.
    for (int i = 0; i < taps.count[y]; ++i) {
      const uint8_t *src = in.row(taps.first[y] + i);
      int32_t weight = w[i];
      for (size_t j = 0; j < rowBytes; ++j)
        accumulators[j] += src[j] * weight;
    }
    uint8_t *dst = out.row(y);
    for (size_t j = 0; j < rowBytes; ++j)
      dst[j] = clampToByte(accumulators[j]);
  }
  return out;
}

} // namespace

RgbImage resizeBicubic(const RgbImage &image, int width, int height) {
  if (image.width <= 0 || image.height <= 0)
    fail("cannot resize an empty image ({}x{})", image.width, image.height);
  if (width <= 0 || height <= 0)
    fail("cannot resize to {}x{}: sizes must be positive", width, height);
  if (width == image.width && height == image.height)
    return image;
  const RgbImage *current = &image;
  RgbImage horizontal;
  if (width != image.width) {
    horizontal = resampleHorizontal(image, width);
    current = &horizontal;
  }
  if (height != image.height)
    return resampleVertical(*current, height);
  return horizontal;
}

void writePixelValues(const RgbImage &image, float *out) {
  float table[256];
  for (int v = 0; v < 256; ++v) {
    float scaled = static_cast<float>(v * (1.0 / 255.0));
    table[v] = (scaled - 0.5f) / 0.5f;
  }
  size_t plane = static_cast<size_t>(image.width) * image.height;
  const uint8_t *p = image.pixels.data();
  for (size_t i = 0; i < plane; ++i, p += 3) {
    out[i] = table[p[0]];
    out[plane + i] = table[p[1]];
    out[2 * plane + i] = table[p[2]];
  }
}

Tensor toPixelValues(const RgbImage &image) {
  Tensor values(DType::F32, {3, image.height, image.width});
  writePixelValues(image, values.data<float>());
  return values;
}

} // namespace pgc
