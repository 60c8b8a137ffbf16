// PNG decoding and encoding through libpng, with libpng's longjmp errors turned
// into pgc::Error.
//
// libpng reports errors by longjmp. Every function that calls setjmp below
// keeps only trivially destructible locals that start their life after the
// setjmp, so the jump skips no destructor; C++ objects are made by callers.
#include "runtime/data/Image.h"

#include "runtime/support/Error.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pgc {
namespace {

struct PngReadState {
  const uint8_t *bytes;
  size_t size;
  size_t offset;
  int64_t maxPixels;
  char message[256];
};

void readFromMemory(png_structp png, png_bytep out, png_size_t length) {
  auto *state = static_cast<PngReadState *>(png_get_io_ptr(png));
  if (length > state->size - state->offset)
    png_error(png, "file is truncated");
  std::memcpy(out, state->bytes + state->offset, length);
  state->offset += length;
}

void recordErrorAndJump(png_structp png, png_const_charp message) {
  auto *state = static_cast<PngReadState *>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

// Warnings concern ancillary chunks (bad CRC, unknown profile), which
// libpng discards; PIL ignores the same problems.
void ignoreWarning(png_structp, png_const_charp) {}

// Reads the header and configures libpng's transforms so that every row
// comes out as 8-bit RGB. Returns false with state->message set on error.
bool readPngHeader(png_structp png, png_infop info, PngReadState *state,
                   int *width, int *height) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info);
  png_uint_32 h = png_get_image_height(png, info);
  if (static_cast<double>(w) * h > static_cast<double>(state->maxPixels)) {
    std::snprintf(state->message, sizeof(state->message),
                  "%ux%u pixels is over the limit of %lld", w, h,
                  static_cast<long long>(state->maxPixels));
    return false;
  }
  int bitDepth = png_get_bit_depth(png, info);
  int colorType = png_get_color_type(png, info);
  if (bitDepth == 16)
    png_set_strip_16(png);
  if (colorType == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(png);
  if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  // Also drops the alpha that palette expansion makes from a tRNS chunk;
  // PIL's convert("RGB") ignores transparency the same way.
  png_set_strip_alpha(png);
  if (colorType == PNG_COLOR_TYPE_GRAY ||
      colorType == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(w) * 3) {
    std::snprintf(state->message, sizeof(state->message),
                  "unexpected row layout after conversion to RGB");
    return false;
  }
  *width = static_cast<int>(w);
  *height = static_cast<int>(h);
  return true;
}

bool readPngRows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

struct PngReadHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadHandles() { png_destroy_read_struct(&png, &info, nullptr); }
};

} // namespace

RgbImage decodePng(const uint8_t *bytes, size_t size, const std::string &name,
                   const ImageDecodeLimits &limits) {
  PngReadState state{bytes, size, 0, limits.maxPixels, {0}};
  if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0)
    fail("{}: not a PNG file (bad signature)", name);
  PngReadHandles handles;
  handles.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state,
                                       recordErrorAndJump, ignoreWarning);
  if (!handles.png)
    fail("{}: cannot initialise libpng", name);
  handles.info = png_create_info_struct(handles.png);
  if (!handles.info)
    fail("{}: cannot initialise libpng", name);
  png_set_read_fn(handles.png, &state, readFromMemory);
  // CRC errors in critical chunks stay errors (libpng's default); a
  // corrupt file must not decode to garbage.
  int width = 0, height = 0;
  if (!readPngHeader(handles.png, handles.info, &state, &width, &height))
    fail("{}: corrupt PNG: {}", name, state.message);
  if (width <= 0 || height <= 0)
    fail("{}: PNG has no pixels ({}x{})", name, width, height);
  RgbImage image(width, height);
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (int y = 0; y < height; ++y)
    rows[y] = image.row(y);
  if (!readPngRows(handles.png, handles.info, rows.data()))
    fail("{}: corrupt PNG: {}", name, state.message);
  return image;
}

namespace {

struct PngWriteState {
  std::string *out;
  char message[256];
};

void appendToString(png_structp png, png_bytep data, png_size_t length) {
  auto *state = static_cast<PngWriteState *>(png_get_io_ptr(png));
  state->out->append(reinterpret_cast<const char *>(data), length);
}

void flushNothing(png_structp) {}

void recordWriteErrorAndJump(png_structp png, png_const_charp message) {
  auto *state = static_cast<PngWriteState *>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

bool writePngRows(png_structp png, png_infop info, const RgbImage &image,
                  png_bytepp rows, int compressionLevel) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, compressionLevel);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct PngWriteHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteHandles() { png_destroy_write_struct(&png, &info); }
};

} // namespace

std::string encodePng(const RgbImage &image, int compressionLevel) {
  if (image.width <= 0 || image.height <= 0)
    fail("cannot encode an empty image ({}x{}) as PNG", image.width,
         image.height);
  std::string out;
  PngWriteState state{&out, {0}};
  PngWriteHandles handles;
  handles.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state,
                                        recordWriteErrorAndJump, ignoreWarning);
  if (!handles.png)
    fail("cannot initialise libpng for writing");
  handles.info = png_create_info_struct(handles.png);
  if (!handles.info)
    fail("cannot initialise libpng for writing");
  png_set_write_fn(handles.png, &state, appendToString, flushNothing);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y)
    rows[y] = const_cast<png_bytep>(image.row(y));
  if (!writePngRows(handles.png, handles.info, image, rows.data(),
                    compressionLevel))
    fail("cannot encode PNG: {}", state.message);
  return out;
}

} // namespace pgc
