// PNG and JPEG decoding agrees byte for byte with PIL's convert("RGB"), and bad
// files fail with one line naming them.
#include "runtime/data/Image.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace pgc {
namespace {

nlohmann::json manifest() {
  std::ifstream in(testing::imagesDir() + "/manifest.json");
  return nlohmann::json::parse(in);
}

TEST(ImageDecode, EveryPngAndJpegKindMatchesPil) {
  auto cases = manifest()["decode"];
  ASSERT_GE(cases.size(), 20u);
  for (const auto &entry : cases) {
    std::string file =
        testing::imagesDir() + "/" + entry["file"].get<std::string>();
    std::vector<char> expected = readFile(testing::imagesDir() + "/" +
                                          entry["expected"].get<std::string>());
    RgbImage image = decodeImageFile(file);
    ASSERT_EQ(image.width, entry["width"].get<int>()) << file;
    ASSERT_EQ(image.height, entry["height"].get<int>()) << file;
    ASSERT_EQ(image.pixels.size(), expected.size()) << file;
    int worst = 0;
    for (size_t i = 0; i < expected.size(); ++i)
      worst = std::max(worst, std::abs(int(image.pixels[i]) -
                                       int(static_cast<uint8_t>(expected[i]))));
    EXPECT_EQ(worst, 0) << file << " (PIL mode "
                        << entry["pil_mode"].get<std::string>() << ")";
  }
}

TEST(ImageDecode, SignatureNotExtensionPicksTheDecoder) {
  testing::ScratchDir scratch("pgc-decode-signature");
  std::vector<char> png = readFile(testing::imagesDir() + "/decode/rgb8.png");
  std::string renamed = scratch / "actually-a-png.jpg";
  writeFileAtomically(renamed, std::string_view(png.data(), png.size()));
  RgbImage image = decodeImageFile(renamed);
  EXPECT_EQ(image.width, 23);
}

// Each bad file must raise pgc::Error whose single line names the file.
void expectOneLineErrorNaming(const std::string &path, const char *fragment) {
  try {
    decodeImageFile(path);
    ADD_FAILURE() << path << ": decoded without error";
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(ImageDecode, CorruptTruncatedAndEmptyFilesAreErrors) {
  std::string bad = testing::imagesDir() + "/bad/";
  expectOneLineErrorNaming(bad + "empty.png", "empty");
  expectOneLineErrorNaming(bad + "truncated.png", "truncated");
  expectOneLineErrorNaming(bad + "no_iend.png", "truncated");
  expectOneLineErrorNaming(bad + "bad_crc.png", "corrupt PNG");
  expectOneLineErrorNaming(bad + "bad_chunk_type.png", "chunk type");
  expectOneLineErrorNaming(bad + "zero_width.png", "width");
  expectOneLineErrorNaming(bad + "zero_height.png", "height");
  expectOneLineErrorNaming(bad + "truncated.jpg", "JPEG");
  expectOneLineErrorNaming(bad + "header_only.jpg", "JPEG");
  expectOneLineErrorNaming(bad + "garbage_scan.jpg", "JPEG");
  expectOneLineErrorNaming(bad + "text.png", "not a PNG or JPEG");
  expectOneLineErrorNaming(bad + "missing.png", "no such file");
  expectOneLineErrorNaming(bad.substr(0, bad.size() - 1), "not a regular file");
}

TEST(ImageDecode, EveryTruncationOfAValidFileIsAnErrorNotACrash) {
  for (const char *name : {"/decode/rgb8_interlaced.png", "/decode/rgb420.jpg",
                           "/decode/progressive.jpg", "/decode/cmyk.jpg"}) {
    std::vector<char> bytes = readFile(testing::imagesDir() + name);
    for (size_t size = 0; size < bytes.size(); size += 7) {
      EXPECT_THROW(decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()),
                               size, name),
                   Error)
          << name << " cut at " << size;
    }
  }
}

TEST(ImageDecode, PixelLimitRefusesOversizedHeaders) {
  ImageDecodeLimits limits;
  limits.maxPixels = 100; // the 23x17 images have 391 pixels
  for (const char *name : {"/decode/rgb8.png", "/decode/rgb420.jpg"}) {
    std::string path = testing::imagesDir() + name;
    std::vector<char> bytes = readFile(path);
    try {
      decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(),
                  path, limits);
      ADD_FAILURE() << path << " decoded despite the limit";
    } catch (const Error &e) {
      EXPECT_NE(std::string(e.what()).find("over the limit"), std::string::npos)
          << e.what();
    }
  }
}

TEST(ImageDecode, PngEncodeRoundTrips) {
  RgbImage image(13, 7);
  for (size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<uint8_t>(i * 37 + 11);
  std::string png = encodePng(image);
  RgbImage decoded = decodeImage(reinterpret_cast<const uint8_t *>(png.data()),
                                 png.size(), "memory");
  EXPECT_EQ(decoded.width, 13);
  EXPECT_EQ(decoded.height, 7);
  EXPECT_EQ(decoded.pixels, image.pixels);
}

} // namespace
} // namespace pgc
