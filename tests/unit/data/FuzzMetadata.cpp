// libFuzzer target: any bytes as an imagefolder's metadata.jsonl either fail
// with pgc::Error or give examples whose images lie inside the folder (the
// one image there is "0.png"), with every configured column read.
#include "runtime/data/ImageFolder.h"
#include "runtime/support/Error.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const fs::path folder = [] {
    fs::path dir = fs::temp_directory_path() /
                   ("pgc-fuzz-metadata-" + std::to_string(::getpid()));
    fs::create_directories(dir / "images");
    std::ofstream(dir / "0.png") << "x";
    std::ofstream(dir / "images" / "1.png") << "x";
    return dir;
  }();
  {
    std::ofstream out(folder / "metadata.jsonl", std::ios::binary);
    out.write(reinterpret_cast<const char *>(data),
              static_cast<std::streamsize>(size));
  }
  pgc::VqaColumns columns;
  columns.answers = "answers";
  for (bool withAnswers : {false, true}) {
    pgc::VqaColumns used = withAnswers ? columns : pgc::VqaColumns();
    try {
      pgc::VqaDataset dataset =
          pgc::VqaDataset::openImageFolder(folder.string(), used);
      for (const pgc::VqaExample &example : dataset.examples()) {
        fs::path image = fs::weakly_canonical(example.imagePath);
        fs::path inside = fs::weakly_canonical(folder);
        auto [end, _] = std::mismatch(inside.begin(), inside.end(),
                                      image.begin(), image.end());
        if (end != inside.end() || !fs::is_regular_file(image))
          std::abort(); // an image outside the folder got through
        if (withAnswers && example.source.empty())
          std::abort();
      }
    } catch (const pgc::Error &) {
    }
  }
  return 0;
}
