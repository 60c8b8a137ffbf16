// `pgc preprocess IMAGE --size N -o OUT`: writes what the vision tower sees, as
// a PNG or as normalised pixel values.
#include "tools/pgc/Commands.h"

#include "runtime/data/Image.h"
#include "runtime/data/ImageTransforms.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"

namespace pgc::cli {
namespace {

struct PreprocessArgs {
  std::string image;
  int size = 224;
  std::string output;
};

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int runPreprocess(const PreprocessArgs &args) {
  bool png = endsWith(args.output, ".png");
  if (!png && !endsWith(args.output, ".safetensors"))
    fail("{}: output must end in .png (the resized image) or .safetensors "
         "(pixel_values)",
         args.output);
  if (args.size < 1 || args.size > 16384)
    fail("--size {}: must lie in 1..16384", args.size);
  RgbImage resized =
      resizeBicubic(decodeImageFile(args.image), args.size, args.size);
  if (png) {
    writeFileAtomically(args.output, encodePng(resized));
    return 0;
  }
  writeSafetensors(args.output, {{"pixel_values", toPixelValues(resized)}},
                   {{"source", args.image},
                    {"resample", "bicubic (PIL)"},
                    {"normalisation", "x / 255 * 2 - 1 (mean = std = 0.5)"}});
  return 0;
}

CommandAction registerPreprocess(CLI::App &app) {
  auto args = std::make_shared<PreprocessArgs>();
  CLI::App *sub = app.add_subcommand(
      "preprocess",
      "Resize an image as PaliGemma's processor does (PIL bicubic) and write "
      "it as a PNG, or as pixel_values f32 [3,N,N] in [-1,1] (.safetensors)");
  sub->add_option("image", args->image, "PNG or JPEG file")->required();
  sub->add_option("--size", args->size, "Model resolution N (default 224)");
  sub->add_option("-o,--output", args->output, "OUT.png or OUT.safetensors")
      ->required();
  return [args] { return runPreprocess(*args); };
}

CommandRegistration registration(40, registerPreprocess);

} // namespace
} // namespace pgc::cli
