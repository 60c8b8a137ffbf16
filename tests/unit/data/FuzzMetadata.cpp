// libFuzzer target: any bytes as an imagefolder's metadata.jsonl (or, built
// with PGC_FUZZ_METADATA_CSV, its metadata.csv) either fail with pgc::Error
// or give examples whose images lie inside the folder (the images there are
// "0.png" and "images/1.png"), with every configured column read.
#include "runtime/data/ImageFolder.h"
#include "runtime/support/Error.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

#ifdef PGC_FUZZ_METADATA_CSV
static const char *const kMetadataName = "metadata.csv";
#else
static const char *const kMetadataName = "metadata.jsonl";
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const fs::path folder = [] {
    fs::path dir =
        fs::temp_directory_path() / (std::string("pgc-fuzz-") + kMetadataName +
                                     "-" + std::to_string(::getpid()));
    fs::create_directories(dir / "images");
    std::ofstream(dir / "0.png") << "x";
    std::ofstream(dir / "images" / "1.png") << "x";
    return dir;
  }();
  {
    std::ofstream out(folder / kMetadataName, std::ios::binary);
    out.write(reinterpret_cast<const char *>(data),
              static_cast<std::streamsize>(size));
  }
  // The defaults (answers read where present), answers required, and no
  // answers column at all.
  pgc::VqaColumns required;
  required.answersRequired = true;
  pgc::VqaColumns none;
  none.answers.clear();
  for (const pgc::VqaColumns &columns : {pgc::VqaColumns(), required, none}) {
    try {
      pgc::VqaDataset dataset =
          pgc::VqaDataset::openImageFolder(folder.string(), columns);
      if (dataset.size() == 0)
        std::abort(); // an empty dataset must be an error
      for (const pgc::VqaExample &example : dataset.examples()) {
        fs::path image = fs::weakly_canonical(example.imagePath);
        fs::path inside = fs::weakly_canonical(folder);
        auto [end, _] = std::mismatch(inside.begin(), inside.end(),
                                      image.begin(), image.end());
        if (end != inside.end() || !fs::is_regular_file(image))
          std::abort(); // an image outside the folder got through
        if (example.source.find(kMetadataName) == std::string::npos)
          std::abort(); // errors about this row would not name the file
        if (columns.answers.empty() && !example.answers.empty())
          std::abort();
      }
    } catch (const pgc::Error &) {
    }
  }
  return 0;
}
