// Bicubic resizing agrees with PIL's Image.resize(..., BICUBIC), and
// normalisation maps 0..255 onto [-1, 1].
#include "runtime/data/ImageTransforms.h"
#include "runtime/support/Error.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace pgc {
namespace {

// The source pattern of tests/data/images/make_references.py (resize_source):
// a smooth third, a third of sharp blocks and a third of noise, computed
// with the same integer formula.
RgbImage resizeSource(int width, int height) {
  RgbImage image(width, height);
  for (uint64_t y = 0; y < static_cast<uint64_t>(height); ++y)
    for (uint64_t x = 0; x < static_cast<uint64_t>(width); ++x)
      for (uint64_t c = 0; c < 3; ++c) {
        uint64_t h =
            (x * 374761393u + y * 668265263u + c * 2246822519u) & 0xFFFFFFFFu;
        h = ((h ^ (h >> 13)) * 1274126177u) & 0xFFFFFFFFu;
        uint64_t noise = (h >> 24) & 255;
        uint64_t smooth = c == 0 ? x * 255 / std::max(width - 1, 1)
                          : c == 1
                              ? y * 255 / std::max(height - 1, 1)
                              : (x + y) * 255 / std::max(width + height - 2, 1);
        uint64_t block = ((x / 7) + (y / 5)) % 2 == 1 ? 255 : 0;
        uint64_t third = x * 3 / width;
        uint64_t value = third == 0 ? smooth : third == 1 ? block : noise;
        image.row(static_cast<int>(y))[3 * x + c] = static_cast<uint8_t>(value);
      }
  return image;
}

TEST(Resize, MatchesPilBicubicWithinOneLevel) {
  std::ifstream in(testing::imagesDir() + "/manifest.json");
  auto cases = nlohmann::json::parse(in)["resize"];
  ASSERT_GE(cases.size(), 8u);
  for (const auto &entry : cases) {
    int sw = entry["source_width"], sh = entry["source_height"];
    int w = entry["width"], h = entry["height"];
    RgbImage expected = decodeImageFile(testing::imagesDir() + "/" +
                                        entry["expected"].get<std::string>());
    ASSERT_EQ(expected.width, w);
    ASSERT_EQ(expected.height, h);
    RgbImage resized = resizeBicubic(resizeSource(sw, sh), w, h);
    ASSERT_EQ(resized.width, w);
    ASSERT_EQ(resized.height, h);
    int worst = 0;
    size_t differing = 0;
    for (size_t i = 0; i < expected.pixels.size(); ++i) {
      int difference =
          std::abs(int(resized.pixels[i]) - int(expected.pixels[i]));
      worst = std::max(worst, difference);
      differing += difference != 0;
    }
    // The acceptance bound is one level (1/255); the fixed-point scheme is
    // PIL's own, so in practice every sample is identical.
    EXPECT_LE(worst, 1) << sw << "x" << sh << " -> " << w << "x" << h << ": "
                        << entry["covers"].get<std::string>();
    EXPECT_EQ(differing, 0u) << sw << "x" << sh << " -> " << w << "x" << h
                             << ": " << differing << " samples differ";
  }
}

TEST(Resize, BadSizesAreErrors) {
  RgbImage image(4, 4);
  EXPECT_THROW(resizeBicubic(image, 0, 4), Error);
  EXPECT_THROW(resizeBicubic(image, 4, -1), Error);
  EXPECT_THROW(resizeBicubic(RgbImage(), 4, 4), Error);
}

TEST(PixelValues, ScaleToMinusOneOneChannelsFirst) {
  RgbImage image(256, 2);
  for (int x = 0; x < 256; ++x)
    for (int y = 0; y < 2; ++y) {
      image.row(y)[3 * x + 0] = static_cast<uint8_t>(x);
      image.row(y)[3 * x + 1] = static_cast<uint8_t>(255 - x);
      image.row(y)[3 * x + 2] = static_cast<uint8_t>((x * 7) % 256);
    }
  Tensor values = toPixelValues(image);
  ASSERT_EQ(values.dtype(), DType::F32);
  ASSERT_EQ(values.shape(), (Shape{3, 2, 256}));
  const float *data = values.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 256; ++x) {
        double level = image.row(y)[3 * x + c];
        double expected = (level / 255.0 - 0.5) / 0.5;
        EXPECT_NEAR(data[(c * 2 + y) * 256 + x], expected, 1e-6);
      }
  EXPECT_EQ(data[0], -1.0f);
  EXPECT_EQ(data[255], 1.0f);
}

} // namespace
} // namespace pgc
