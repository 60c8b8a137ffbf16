// Picks the decoder for an image file from its signature.
#include "runtime/data/Image.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <cstring>
#include <filesystem>

namespace pgc {

RgbImage decodeImage(const uint8_t *bytes, size_t size, const std::string &name,
                     const ImageDecodeLimits &limits) {
  static const uint8_t pngSignature[8] = {0x89, 'P',  'N',  'G',
                                          '\r', '\n', 0x1A, '\n'};
  if (size == 0)
    fail("{}: empty file, not an image", name);
  if (size >= 8 && std::memcmp(bytes, pngSignature, 8) == 0)
    return decodePng(bytes, size, name, limits);
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decodeJpeg(bytes, size, name, limits);
  fail("{}: not a PNG or JPEG file (unknown signature)", name);
}

RgbImage decodeImageFile(const std::string &path,
                         const ImageDecodeLimits &limits) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    fail("{}: {}", path,
         std::filesystem::exists(path, error) ? "not a regular file"
                                              : "no such file");
  std::vector<char> bytes = readFile(path);
  return decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()),
                     bytes.size(), path, limits);
}

} // namespace pgc
