// Decoded 8-bit RGB images: PNG through libpng, JPEG through libjpeg-turbo,
// converted as PIL's convert("RGB") does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  RgbImage() = default;
  RgbImage(int width, int height)
      : width(width), height(height),
        pixels(static_cast<size_t>(width) * height * 3) {}
  uint8_t *row(int y) {
    return pixels.data() + static_cast<size_t>(y) * width * 3;
  }
  const uint8_t *row(int y) const {
    return pixels.data() + static_cast<size_t>(y) * width * 3;
  }
};

/// Guards against images whose header promises more pixels than any real
/// input has (decompression bombs, fuzzed headers). The default is PIL's
/// DecompressionBombError threshold, 2 * 89,478,485 pixels.
struct ImageDecodeLimits {
  int64_t maxPixels = 178956970;
};

/// Decodes PNG or JPEG, picked by the file's signature, not its extension.
/// Throws pgc::Error "<name>: <problem>" for unreadable, truncated, corrupt,
/// zero-sized, oversized or unsupported images.
RgbImage decodeImage(const uint8_t *bytes, size_t size, const std::string &name,
                     const ImageDecodeLimits &limits = {});
RgbImage decodeImageFile(const std::string &path,
                         const ImageDecodeLimits &limits = {});

/// PNG of any bit depth (1, 2, 4, 8, 16) and colour type. 16-bit samples keep
/// their high byte; alpha and tRNS transparency are dropped; palettes are
/// looked up; grey is replicated into R, G and B.
RgbImage decodePng(const uint8_t *bytes, size_t size, const std::string &name,
                   const ImageDecodeLimits &limits = {});
/// Baseline or progressive JPEG: YCbCr, RGB, greyscale, and CMYK/YCCK (Adobe
/// inverted CMYK is converted with PIL's formula). Any libjpeg warning
/// (corrupt entropy data, premature end) is an error.
RgbImage decodeJpeg(const uint8_t *bytes, size_t size, const std::string &name,
                    const ImageDecodeLimits &limits = {});

/// An 8-bit RGB PNG in memory. `compressionLevel` is zlib's 0..9.
std::string encodePng(const RgbImage &image, int compressionLevel = 6);

} // namespace pgc
