// JPEG decoding through libjpeg-turbo's libjpeg API, with its longjmp errors
// turned into pgc::Error.
//
// The libjpeg API (rather than TurboJPEG) is used because CMYK files need the
// Adobe marker to know whether samples are stored inverted, as PIL assumes.
// Functions that call setjmp keep only trivially destructible locals.
#include "runtime/data/Image.h"

#include "runtime/support/Error.h"

#include <csetjmp>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

namespace pgc {
namespace {

struct JpegErrorState {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
};

[[noreturn]] void recordErrorAndJump(j_common_ptr info) {
  auto *state = reinterpret_cast<JpegErrorState *>(info->err);
  info->err->format_message(info, state->message);
  std::longjmp(state->jump, 1);
}

// libjpeg only warns about corrupt entropy data or a missing end of file and
// then decodes filler; we refuse such files instead of training on garbage.
void treatWarningsAsErrors(j_common_ptr info, int level) {
  if (level < 0)
    recordErrorAndJump(info);
}

// PIL's CMYK -> RGB: each channel is (255 - k) * (255 - c) / 255 computed
// with the rounding division "(t + (t >> 8)) >> 8" where t = a * b + 128.
inline uint8_t cmykChannelToRgb(int ink, int black) {
  int keep = 255 - black;
  int t = ink * keep + 128;
  int scaled = ((t >> 8) + t) >> 8;
  int value = keep - scaled;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

void convertCmykRow(const uint8_t *cmyk, uint8_t *rgb, int width,
                    bool inverted) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    int c = inverted ? 255 - cmyk[0] : cmyk[0];
    int m = inverted ? 255 - cmyk[1] : cmyk[1];
    int y = inverted ? 255 - cmyk[2] : cmyk[2];
    int k = inverted ? 255 - cmyk[3] : cmyk[3];
    rgb[0] = cmykChannelToRgb(c, k);
    rgb[1] = cmykChannelToRgb(m, k);
    rgb[2] = cmykChannelToRgb(y, k);
  }
}

enum class JpegOutput { Rgb, Cmyk };

// Reads the header and picks the output colour space. Returns false with
// state->message set on error.
bool readJpegHeader(jpeg_decompress_struct *info, JpegErrorState *state,
                    const uint8_t *bytes, size_t size, int64_t maxPixels,
                    int *width, int *height, JpegOutput *output) {
  if (setjmp(state->jump))
    return false;
  jpeg_mem_src(info, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(info, TRUE);
  switch (info->jpeg_color_space) {
  case JCS_GRAYSCALE:
  case JCS_YCbCr:
  case JCS_RGB:
    info->out_color_space = JCS_RGB;
    *output = JpegOutput::Rgb;
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    info->out_color_space = JCS_CMYK;
    *output = JpegOutput::Cmyk;
    break;
  default:
    std::snprintf(state->message, sizeof(state->message),
                  "unsupported JPEG colour space with %d components",
                  info->num_components);
    return false;
  }
  if (static_cast<double>(info->image_width) * info->image_height >
      static_cast<double>(maxPixels)) {
    std::snprintf(state->message, sizeof(state->message),
                  "%ux%u pixels is over the limit of %lld", info->image_width,
                  info->image_height, static_cast<long long>(maxPixels));
    return false;
  }
  jpeg_start_decompress(info);
  *width = static_cast<int>(info->output_width);
  *height = static_cast<int>(info->output_height);
  return true;
}

// Decodes all scanlines into `pixels` (RGB) or `cmykRow` (one row of CMYK
// converted into `pixels` as it goes).
bool readJpegRows(jpeg_decompress_struct *info, JpegErrorState *state,
                  RgbImage *image, uint8_t *cmykRow, JpegOutput output) {
  if (setjmp(state->jump))
    return false;
  bool inverted = info->saw_Adobe_marker;
  while (info->output_scanline < info->output_height) {
    int y = static_cast<int>(info->output_scanline);
    JSAMPROW row = output == JpegOutput::Rgb ? image->row(y) : cmykRow;
    jpeg_read_scanlines(info, &row, 1);
    if (output == JpegOutput::Cmyk)
      convertCmykRow(cmykRow, image->row(y), image->width, inverted);
  }
  jpeg_finish_decompress(info);
  return true;
}

struct JpegDecompressor {
  jpeg_decompress_struct info;
  JpegErrorState errors;
  JpegDecompressor() {
    info.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = recordErrorAndJump;
    errors.manager.emit_message = treatWarningsAsErrors;
    errors.message[0] = 0;
    jpeg_create_decompress(&info);
  }
  ~JpegDecompressor() { jpeg_destroy_decompress(&info); }
};

} // namespace

RgbImage decodeJpeg(const uint8_t *bytes, size_t size, const std::string &name,
                    const ImageDecodeLimits &limits) {
  if (size < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF)
    fail("{}: not a JPEG file (bad signature)", name);
  JpegDecompressor decompressor;
  int width = 0, height = 0;
  JpegOutput output = JpegOutput::Rgb;
  if (!readJpegHeader(&decompressor.info, &decompressor.errors, bytes, size,
                      limits.maxPixels, &width, &height, &output))
    fail("{}: corrupt or unsupported JPEG: {}", name,
         decompressor.errors.message);
  if (width <= 0 || height <= 0)
    fail("{}: JPEG has no pixels ({}x{})", name, width, height);
  RgbImage image(width, height);
  std::vector<uint8_t> cmykRow(
      output == JpegOutput::Cmyk ? static_cast<size_t>(width) * 4 : 0);
  if (!readJpegRows(&decompressor.info, &decompressor.errors, &image,
                    cmykRow.data(), output))
    fail("{}: corrupt JPEG: {}", name, decompressor.errors.message);
  return image;
}

} // namespace pgc
