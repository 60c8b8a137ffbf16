// What the SigLIP image processor does to a decoded image: PIL-exact bicubic
// resize, then scaling to [-1, 1] channels first.
#pragma once

#include "runtime/data/Image.h"
#include "runtime/support/Tensor.h"

namespace pgc {

/// Resizes like PIL's Image.resize((width, height), Image.BICUBIC) on an RGB
/// image: a separable cubic convolution (a = -0.5) whose support widens with
/// the downscale factor, horizontal pass first, coefficients and both passes
/// in PIL's 22-bit fixed point, 8-bit rounding between the passes. Same size
/// is a copy, as in PIL.
RgbImage resizeBicubic(const RgbImage &image, int width, int height);

/// x / 255 followed by (x - 0.5) / 0.5 in float32, as the Hugging Face image
/// processor computes it, into `out` laid out [3, height, width].
void writePixelValues(const RgbImage &image, float *out);
/// F32 [3, height, width] in [-1, 1].
Tensor toPixelValues(const RgbImage &image);

} // namespace pgc
