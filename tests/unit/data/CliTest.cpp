// `pgc preprocess` and `pgc data synth-vqa` as a user runs them: outputs, exit
// codes, one-line errors, nothing half-written.
#include "runtime/data/Image.h"
#include "runtime/data/ImageTransforms.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"
#include "tests/unit/data/TestData.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

namespace pgc {
namespace {

struct RunResult {
  int exitCode;
  std::string stderrText;
};

RunResult runPgc(const std::string &arguments, const std::string &scratch) {
  std::string errPath = scratch + "/stderr.txt";
  std::string command = std::string(PGC_BINARY_DIR) + "/bin/pgc " + arguments +
                        " >/dev/null 2>" + errPath;
  int status = std::system(command.c_str());
  std::vector<char> err = readFile(errPath);
  std::filesystem::remove(errPath);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string(err.begin(), err.end())};
}

TEST(PgcPreprocess, WritesPilResizedPngAndNormalisedSafetensors) {
  testing::ScratchDir scratch("pgc-cli-preprocess");
  std::string source = testing::imagesDir() + "/source_101x67.png";
  RunResult png =
      runPgc("preprocess " + source + " --size 56 -o " + (scratch / "out.png"),
             scratch.str());
  ASSERT_EQ(png.exitCode, 0) << png.stderrText;
  RgbImage written = decodeImageFile(scratch / "out.png");
  RgbImage pil =
      decodeImageFile(testing::imagesDir() + "/resize/101x67_to_56x56.png");
  EXPECT_EQ(written.pixels, pil.pixels);

  RunResult st = runPgc("preprocess " + source + " --size 56 -o " +
                            (scratch / "out.safetensors"),
                        scratch.str());
  ASSERT_EQ(st.exitCode, 0) << st.stderrText;
  Tensor values =
      SafetensorsFile::open(scratch / "out.safetensors").tensor("pixel_values");
  ASSERT_EQ(values.shape(), (Shape{3, 56, 56}));
  ASSERT_EQ(values.dtype(), DType::F32);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 56 * 56; ++i)
      ASSERT_NEAR(values.at(c * 56 * 56 + i),
                  pil.pixels[3 * i + c] / 255.0 * 2.0 - 1.0, 1e-6);
}

TEST(PgcPreprocess, BadInputsExitOneWithALineNamingTheFile) {
  testing::ScratchDir scratch("pgc-cli-bad");
  std::string bad = testing::imagesDir() + "/bad/";
  for (const char *name :
       {"empty.png", "truncated.png", "bad_crc.png", "zero_width.png",
        "truncated.jpg", "garbage_scan.jpg", "text.png", "missing.png"}) {
    std::string out = scratch / "out.png";
    RunResult result = runPgc(
        "preprocess " + bad + name + " --size 32 -o " + out, scratch.str());
    EXPECT_EQ(result.exitCode, 1) << name << ": " << result.stderrText;
    EXPECT_NE(result.stderrText.find(bad + name), std::string::npos)
        << result.stderrText;
    EXPECT_EQ(
        std::count(result.stderrText.begin(), result.stderrText.end(), '\n'), 1)
        << result.stderrText;
    EXPECT_FALSE(std::filesystem::exists(out)) << name;
  }
  RunResult extension =
      runPgc("preprocess " + testing::imagesDir() + "/decode/rgb8.png -o " +
                 (scratch / "out.bmp"),
             scratch.str());
  EXPECT_EQ(extension.exitCode, 1);
  EXPECT_NE(extension.stderrText.find("out.bmp"), std::string::npos);
}

TEST(PgcData, SynthVqaWritesASetAndRefusesToOverwrite) {
  testing::ScratchDir scratch("pgc-cli-synth");
  std::string out = scratch / "set";
  std::string arguments = "data synth-vqa --out " + out +
                          " --train 4 --val 2 --image-size 32 --seed 3";
  RunResult first = runPgc(arguments, scratch.str());
  ASSERT_EQ(first.exitCode, 0) << first.stderrText;
  EXPECT_TRUE(std::filesystem::exists(out + "/train/000003.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/validation/metadata.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(out + "/pgc_data.json"));
  EXPECT_FALSE(std::filesystem::exists(out + "/tokenizer.json"));
  RunResult second = runPgc(arguments, scratch.str());
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_NE(second.stderrText.find(out), std::string::npos)
      << second.stderrText;
}

} // namespace
} // namespace pgc
